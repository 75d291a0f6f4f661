// Command ferretdb-sqlite runs FerretDB v1 with its SQLite backend as the local
// MongoDB-wire server of the streamkit stack.
//
// It embeds FerretDB's public package instead of building cmd/ferretdb because
// `go install .../cmd/ferretdb` panics at start-up: its version file is generated
// and missing from the module zip (FerretDB issue #2982). Embedding makes this
// module the main one, which skips that check.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to serve the MongoDB wire protocol on")
	dataDir := flag.String("data-dir", "", "directory for the SQLite files, one per database (required)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	// A TLS listener, as DocumentDB and Atlas require: tests reach it with
	// tls=true&tlsCAFile=..., the options a cloud connection string carries.
	tls := tlsFlags{
		addr: flag.String("listen-tls", "", "TCP address of a TLS listener (off when empty)"),
		cert: flag.String("listen-tls-cert-file", "", "PEM certificate of the TLS listener"),
		key:  flag.String("listen-tls-key-file", "", "PEM private key of the TLS listener"),
		ca:   flag.String("listen-tls-ca-file", "", "PEM CA bundle that client certificates must chain to (optional)"),
	}
	flag.Parse()

	if err := run(*listenAddr, *dataDir, *logLevel, tls); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-sqlite:", err)
		os.Exit(1)
	}
}

type tlsFlags struct {
	addr, cert, key, ca *string
}

func run(listenAddr, dataDir, logLevel string, tls tlsFlags) error {
	if dataDir == "" {
		return fmt.Errorf("-data-dir is required")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}

	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	// FerretDB wants an existing directory and a URL path ending in a slash.
	if err = os.MkdirAll(abs, 0o755); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP:         listenAddr,
			TLS:         *tls.addr,
			TLSCertFile: *tls.cert,
			TLSKeyFile:  *tls.key,
			TLSCAFile:   *tls.ca,
		},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    logger,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Warn("serving", "addr", listenAddr, "data", abs, "uri", f.MongoDBURI())

	return f.Run(ctx)
}
