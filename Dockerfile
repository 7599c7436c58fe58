# One image with every wacamp command; docker-compose.yml picks the command.
FROM golang:1.26.10 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/ ./cmd/scheduler ./cmd/worker ./cmd/asynqmon ./cmd/demo ./cmd/botsailor-sim

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/scheduler"]
