package api_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/api"
)

// openAPIPath is the API's description, kept equal to the routes.
const openAPIPath = "../../api/openapi.yaml"

var loadDoc = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
})

// The OpenAPI document is valid and describes exactly the routes the
// server registers: each route is in it, and nothing else is.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := loadDoc()
	require.NoError(t, err)
	var described []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described = append(described, method+" "+path)
			require.NotContains(t, op.Responses.Map(), "500", "%s %s: a 500 is never an answer to document", method, path)
			if path != "/v1/validate" && method == http.MethodPost {
				require.NotNil(t, op.Responses.Status(http.StatusForbidden), "%s %s: a write route answers a read-only token 403", method, path)
			}
			require.NotNil(t, op.Responses.Status(http.StatusUnauthorized), "%s %s: every route refuses a missing token", method, path)
		}
	}
	routes := api.Routes()
	slices.Sort(described)
	slices.Sort(routes)
	require.Equal(t, routes, described, "api.Routes() and %s differ", openAPIPath)
}

// contract checks answers against the OpenAPI document: every status a
// test sees must be documented for its route, and a JSON body must match
// its schema.
type contract struct {
	router routers.Router
}

func newContract(t *testing.T, serverURL string) *contract {
	t.Helper()
	doc, err := loadDoc()
	require.NoError(t, err)
	// The document names the default address; the test's server is
	// another.
	local := *doc
	local.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(&local)
	require.NoError(t, err)
	return &contract{router: router}
}

func (c *contract) check(t *testing.T, req *http.Request, body []byte, a answer) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	req.Body = io.NopCloser(bytes.NewReader(body))
	mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: a.status,
		Header: a.header,
		Body:   io.NopCloser(bytes.NewReader(a.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: mt != "application/json",
			MultiError: true},
	}
	err = openapi3filter.ValidateResponse(context.Background(), in)
	require.NoError(t, err, "%s %s answered %d, not as documented: %s", req.Method, req.URL.Path, a.status, strings.TrimSpace(string(a.body)))
}
