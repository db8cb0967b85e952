# The server (auth service, broker, panel) as a container: no cgo, no X11
# backend. Each desktop runs its own `mfd agent --server https://HOST:6789`.
#
#   docker build -t mfd .
#   docker run -d -p 6789:6789 -p 8883:8883 -v mfd-state:/state mfd
#
# The build mirrors `make server-only`; test/compose checks that this file,
# docker-compose.yml and the binary's flags agree.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags nox11 -trimpath \
    -ldflags "-X main.version=${VERSION}" -o /mfd ./cmd/mfd
# The state dir must exist and belong to the runtime user before a volume is
# mounted on it, so that a fresh named volume inherits that owner.
RUN mkdir -p /out/state && chown 65532:65532 /out/state && chmod 0700 /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /mfd /usr/local/bin/mfd
COPY --from=build --chown=65532:65532 /out/state /state
USER 65532:65532
ENV MFD_STATE_DIR=/state
VOLUME /state
# 6789: HTTPS, the panel and MQTT over WebSocket. 8883: MQTT over TLS (Home
# Assistant and other integrations).
EXPOSE 6789 8883
ENTRYPOINT ["/usr/local/bin/mfd"]
CMD ["serve", "--no-agent", "--listen", "0.0.0.0:6789", "--mqtt-tls", "0.0.0.0:8883"]
