// The connection storm's load generator: -n raw NATS connections with -k handshakes in flight,
// each dialling, reading the INFO, sending CONNECT + PING and reading until the PONG; connections
// stay open until the last handshake is done. It prints one JSON line: connected, failures,
// seconds, firstFailure.
//
// In Go, with the standard library only, so that the generator is not what a storm measures: a
// single-threaded Node generator spends about 100 µs of CPU per connection and saturates its core
// before either broker does.
//
//	go build -o storm-generator . && ./storm-generator -addr 127.0.0.1:4222 -n 10000 -k 200
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

const connectLine = "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"raw\",\"version\":\"0\"}\r\nPING\r\n"

type result struct {
	Connected    int     `json:"connected"`
	Failures     int     `json:"failures"`
	Seconds      float64 `json:"seconds"`
	FirstFailure string  `json:"firstFailure"`
}

// handshake opens one connection and returns it once the broker answered its PING.
func handshake(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	reader := bufio.NewReader(conn)
	line, err := reader.ReadString('\n')
	if err == nil && !strings.HasPrefix(line, "INFO ") {
		err = fmt.Errorf("expected INFO, got %q", line)
	}
	if err == nil {
		_, err = conn.Write([]byte(connectLine))
	}
	for err == nil && line != "PONG\r\n" {
		if line, err = reader.ReadString('\n'); err == nil && strings.HasPrefix(line, "-ERR") {
			err = fmt.Errorf("%s", strings.TrimSpace(line))
		}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "broker host:port")
	count := flag.Int("n", 10000, "connections")
	inFlight := flag.Int("k", 200, "handshakes in flight")
	timeout := flag.Duration("timeout", 30*time.Second, "longest handshake")
	flag.Parse()

	var mutex sync.Mutex
	var out result
	conns := make([]net.Conn, 0, *count)
	next := 0
	start := time.Now()
	var lanes sync.WaitGroup
	for lane := 0; lane < *inFlight; lane++ {
		lanes.Add(1)
		go func() {
			defer lanes.Done()
			for {
				mutex.Lock()
				if next >= *count {
					mutex.Unlock()
					return
				}
				next++
				mutex.Unlock()
				conn, err := handshake(*addr, *timeout)
				mutex.Lock()
				if err != nil {
					if out.Failures == 0 {
						out.FirstFailure = err.Error()
					}
					out.Failures++
				} else {
					conns = append(conns, conn)
				}
				mutex.Unlock()
			}
		}()
	}
	lanes.Wait()
	out.Seconds = time.Since(start).Seconds()
	out.Connected = len(conns)
	for _, conn := range conns {
		conn.Close()
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
