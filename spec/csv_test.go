package spec

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
)

// loadCampaign loads the campaign at path (see writeCampaign), recording
// the bytes each pass over a CSV file read.
func loadCampaign(t *testing.T, path string) (*Bundle, map[string]int64, error) {
	t.Helper()
	read := map[string]int64{}
	b, err := LoadWith(context.Background(), path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{}, LoadOptions{
		Progress: func(p Progress) { read[p.Stage] = p.Bytes },
	})
	return b, read, err
}

// A file that is not a regular file is refused before anything is read:
// reading a named pipe waits for a writer forever, and /dev/zero never
// ends (it grew to 23 GB).
func TestCSVSpecialFilesAreRefused(t *testing.T) {
	t.Parallel()
	path := writeCampaign(t, "hi", "phone", []string{"4915112345678"})
	csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
	for name, create := range map[string]func() error{
		"FIFO":    func() error { return syscall.Mkfifo(csvPath, 0o600) },
		"Device":  func() error { return os.Symlink("/dev/zero", csvPath) },
		"Proc":    func() error { return os.Symlink("/proc/self/environ", csvPath) },
		"Dir":     func() error { return os.Mkdir(csvPath, 0o700) },
		"Missing": func() error { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(csvPath))
			require.NoError(t, create())
			done := make(chan error, 1)
			go func() { _, _, err := loadCampaign(t, path); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute): // a guard against hanging, not a timing
				t.Fatal("Load blocked on " + name)
			}
			want := map[string]string{
				"FIFO":    "is not a regular file (devices, pipes and the files of /proc, /sys and /dev are never read)",
				"Device":  "is not a regular file (devices, pipes and the files of /proc, /sys and /dev are never read)",
				"Proc":    "is not a regular file (devices, pipes and the files of /proc, /sys and /dev are never read)",
				"Dir":     "is not a regular file (devices, pipes and the files of /proc, /sys and /dev are never read)",
				"Missing": "no such file or directory",
			}[name]
			require.Equal(t, []string{path + ":13: broadcasts[0].audience.csv: cannot read " + csvPath + ": " + want}, problemLines(t, err))
		})
	}
}

// A row longer than MaxCSVRowBytes — a line without end, or a quote never
// closed across the rest of a large file — stops reading at once with the
// line it starts on; nothing past about two rows' worth is read.
func TestCSVRowTooLong(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	for name, tc := range map[string]struct {
		rows []string
		line int
	}{
		"NoLineEnd":      {rows: []string{"4915112345678,a", "4915112345679," + strings.Repeat("x", size)}, line: 3},
		"NulBytes":       {rows: []string{strings.Repeat("\x00", size)}, line: 2},
		"QuoteNotClosed": {rows: []string{"4915112345678,\"never closed", strings.Repeat("4915112345679,text\n", size/19)}, line: 2},
		"HeaderOnly":     {rows: nil, line: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			header := "phone,code"
			if tc.rows == nil {
				header = strings.Repeat("p", size)
			}
			path := writeCampaign(t, "hi", header, tc.rows)
			_, read, err := loadCampaign(t, path)
			csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
			field := " broadcasts[0] (big).audience.csv: "
			require.Contains(t, problemLines(t, err), fmt.Sprintf("%s:%d:%sthe row from line %d on is longer than 64 KiB, the most a row may have (is a quote never closed?)",
				csvPath, tc.line, field, tc.line))
			require.LessOrEqual(t, read[StageValidate], int64(4*MaxCSVRowBytes), "bytes read of an 8 MiB file")
		})
	}
}

// Rows up to the limit are read, however their cells are spread over
// lines: the limit counts what the row holds, not what was buffered.
func TestCSVLongRowsWithinLimits(t *testing.T) {
	t.Parallel()
	cell := strings.Repeat("é", MaxCSVCellChars) // 8 KiB of UTF-8
	row := func(n int) string {
		return fmt.Sprintf("49151123456%02d,\"%s\n%s\",%s,%s,%s,%s,%s", n, cell[:len(cell)/2], cell[len(cell)/2+2:], cell, cell, cell, cell, cell)
	}
	rows := []string{row(1), row(2), row(3)}
	require.Less(t, len(rows[0]), MaxCSVRowBytes)
	path := writeCampaign(t, "{{f}}", "phone,a,b,c,d,e,f", rows)
	b, _, err := loadCampaign(t, path)
	require.NoError(t, err)
	got := allRecipients(t, b.Broadcasts[0])
	require.Len(t, got, 3)
	require.Equal(t, cell, got[2].Vars["f"])
}

func TestCSVCellAndColumnLimits(t *testing.T) {
	t.Parallel()
	t.Run("Cell", func(t *testing.T) {
		t.Parallel()
		path := writeCampaign(t, "hi {{code}}", "phone,code", []string{"4915112345678,a", "4915112345679," + strings.Repeat("x", MaxCSVCellChars+1)})
		_, _, err := loadCampaign(t, path)
		require.Equal(t, []string{filepath.Join(filepath.Dir(path), "customers.csv") +
			":3: broadcasts[0] (big).audience.csv row 3 code: has 4097 characters; a cell may have at most 4096 (the longest text WhatsApp sends)"}, problemLines(t, err))
	})
	t.Run("Columns", func(t *testing.T) {
		t.Parallel()
		cols := []string{"phone"}
		for i := range MaxCSVColumns {
			cols = append(cols, fmt.Sprintf("v%d", i))
		}
		path := writeCampaign(t, "hi", strings.Join(cols, ","), []string{"4915112345678" + strings.Repeat(",", MaxCSVColumns)})
		_, _, err := loadCampaign(t, path)
		require.Equal(t, []string{filepath.Join(filepath.Dir(path), "customers.csv") +
			":1: broadcasts[0] (big).audience.csv: has 253 columns; at most 252 are read (phone, name and 250 variables)"}, problemLines(t, err))
	})
}

// A campaign file over MaxYAMLBytes is refused before it is parsed: a
// million inline recipients took 2 GB.
func TestYAMLFileSizeLimit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big.yaml")
	var b strings.Builder
	b.WriteString("broadcasts:\n  - name: big\n    audience:\n      recipients:\n")
	for i := 0; b.Len() <= MaxYAMLBytes; i++ {
		fmt.Fprintf(&b, "        - {phone: \"49151%08d\"}\n", i)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	_, err := Load(path, testEnv(nil), drivers.Catalog{})
	require.Equal(t, []string{path + ": is larger than 2 MiB, the most a campaign file may be; put large audiences in a CSV file (audience: {csv: people.csv})"},
		problemLines(t, err))
}

// Loading an audience of 200,000 rows keeps none of them: what stays in
// memory after Load, and the most that is live while it reads, do not
// grow with the audience (before audiences were streamed, the Bundle held
// every row: about 100 MB here, 5.7 GB for a 200 MB file). Heap sizes are
// measured after a collection, so they count live memory only.
func TestLoadMemoryDoesNotGrowWithAudience(t *testing.T) {
	const rows = 200_000
	path := writeCampaign(t, "Hi {{name}}, {{code}}", "phone,name,code", nil)
	f, err := os.Create(filepath.Join(filepath.Dir(path), "customers.csv"))
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "phone,name,code")
	for i := range rows {
		fmt.Fprintf(w, "49151%08d,Person %d,CODE-%d\n", i%(rows-1000), i, i) // the last 1,000 repeat the first
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())

	live := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	before := live()
	var peak int64
	b, err := LoadWith(context.Background(), path, testEnv(map[string]string{"BOTSAILOR_API_TOKEN": "x"}), drivers.Catalog{}, LoadOptions{
		Progress: func(Progress) { peak = max(peak, live()) },
	})
	require.NoError(t, err)
	kept := live() - before
	require.Equal(t, rows-1000, b.Broadcasts[0].RecipientCount())
	require.Equal(t, 1000, b.Broadcasts[0].Duplicates)
	runtime.KeepAlive(b)
	t.Logf("kept %d KiB, peak %d KiB over %d KiB", kept>>10, (peak-before)>>10, before>>10)
	require.Less(t, kept, int64(4<<20), "bytes kept after Load")
	require.Less(t, peak-before, int64(16<<20), "bytes live while Load reads")
}

// A people file is read like an audience, by its path as given (relative
// to the working directory), and not held in memory: Each reads it again,
// each number once, and refuses a file changed since.
func TestLoadPeopleStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, err := LoadPeople(ctx, "testdata/good/customers.csv", LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, p.Count)
	require.Equal(t, 1, p.Duplicates)
	var got []Person
	for person, err := range p.Each(ctx) {
		require.NoError(t, err)
		got = append(got, person)
	}
	at := func(line int) Pos { return Pos{File: "testdata/good/customers.csv", Line: line} }
	require.Equal(t, []Person{
		{Recipient{Phone: "4915112345690", Name: "Bob", Vars: map[string]string{"code": "BF20"}}, at(2)},
		{Recipient{Phone: "4915112345691", Name: "Cleo", Vars: map[string]string{"code": "BF21"}}, at(3)},
		{Recipient{Phone: "4915112345678", Name: "Ann again", Vars: map[string]string{"code": "BF99"}}, at(4)},
	}, got)

	path := filepath.Join(t.TempDir(), "people.csv")
	require.NoError(t, os.WriteFile(path, []byte("phone\n4915112345678\n4915112345679\n"), 0o600))
	p, err = LoadPeople(ctx, path, LoadOptions{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("phone\n4915112345678\n4915112345670\n"), 0o600))
	for _, err = range p.Each(ctx) {
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrAudienceChanged)
}

// An audience file is read again from where Load found it only while it
// still lies in the campaign directory: one replaced by a link out of it
// after validation is refused, whatever it holds.
func TestEachRecipientStaysInTheCampaignDirectory(t *testing.T) {
	t.Parallel()
	path := writeCampaign(t, "hi", "phone", []string{"4915112345678"})
	b, _, err := loadCampaign(t, path)
	require.NoError(t, err)
	outside := filepath.Join(t.TempDir(), "elsewhere.csv")
	require.NoError(t, os.WriteFile(outside, []byte("phone\n4915112345678\n"), 0o600))
	csvPath := filepath.Join(filepath.Dir(path), "customers.csv")
	require.NoError(t, os.Remove(csvPath))
	require.NoError(t, os.Symlink(outside, csvPath))
	for _, err = range b.Broadcasts[0].EachRecipient(context.Background()) {
		if err != nil {
			break
		}
	}
	require.ErrorContains(t, err, csvPath+": it is no longer in the campaign directory")
}
