// Command pstest-server runs Google's Pub/Sub fake (cloud.google.com/go/pubsub/v2/pstest)
// as the local Pub/Sub emulator of the streamkit stack.
//
// Google's own emulator is a gcloud component, which no package registry this kit
// installs from carries; pstest is a Go package of the Pub/Sub client library, so it
// builds from the Go module proxy like FerretDB. It serves the Publisher and
// Subscriber gRPC APIs over plain gRPC, in memory; clients reach it with
// PUBSUB_EMULATOR_HOST=host:port or an explicit endpoint. Its simplifications are
// documented in docs/bindings.md (one unacknowledged message per ordering key; no
// seek to snapshots; unacknowledged messages dropped after ten minutes).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8085, "TCP port to listen on")
	flag.Parse()

	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	srv, err := start(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pstest-server:", err)
		os.Exit(1)
	}
	log.Printf("pstest (%s) serving Pub/Sub on %s", version(), srv.Addr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pstest-server: close:", err)
	}
}

// start returns the running fake; pstest panics when it cannot listen, which
// becomes an error here so a taken port reads as one line.
func start(addr string) (srv *pstest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot serve on %s: %v", addr, r)
		}
	}()
	return pstest.NewServerWithAddress(addr), nil
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if ok {
		for _, dep := range info.Deps {
			if dep.Path == "cloud.google.com/go/pubsub/v2" {
				return dep.Path + " " + dep.Version
			}
		}
	}
	return "cloud.google.com/go/pubsub/v2"
}
