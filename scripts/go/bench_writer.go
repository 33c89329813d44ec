// bench_writer.go: a dependency-free Go client with the loop of NSQ's bench_writer (one
// connection per GOMAXPROCS, each sending MPUB of --batch-size messages of --size bytes and
// waiting for OK), to measure nsqd without the Deno client's per-round-trip ceiling.
//
//	apt-get install golang-go && go run scripts/go/bench_writer.go --batch-size 1
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("nsqd-tcp-address", "127.0.0.1:4150", "<addr>:<port> to connect to nsqd")
	topic := flag.String("topic", "sub_bench", "topic to receive messages on")
	size := flag.Int("size", 200, "size of messages")
	batch := flag.Int("batch-size", 200, "batch size of messages")
	runfor := flag.Duration("runfor", 10*time.Second, "duration of time to run")
	conns := flag.Int("conns", runtime.GOMAXPROCS(0), "connections")
	flag.Parse()

	body := make([]byte, *size)
	for i := range body {
		body[i] = 'a'
	}
	// MPUB <topic>\n [4-byte body size][4-byte count]([4-byte size][body])*
	payload := 4 + *batch*(4+*size)
	cmd := []byte(fmt.Sprintf("MPUB %s\n", *topic))
	buf := make([]byte, 0, len(cmd)+4+payload)
	buf = append(buf, cmd...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(payload))
	buf = binary.BigEndian.AppendUint32(buf, uint32(*batch))
	for i := 0; i < *batch; i++ {
		buf = binary.BigEndian.AppendUint32(buf, uint32(*size))
		buf = append(buf, body...)
	}

	var total int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(*runfor)
	start := time.Now()
	for j := 0; j < *conns; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", *addr)
			if err != nil {
				log.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("  V2"))
			r := bufio.NewReader(c)
			hdr := make([]byte, 8)
			resp := make([]byte, 64)
			for time.Now().Before(deadline) {
				if _, err := c.Write(buf); err != nil {
					log.Fatal(err)
				}
				for {
					if _, err := io.ReadFull(r, hdr); err != nil {
						log.Fatal(err)
					}
					n := int(binary.BigEndian.Uint32(hdr[:4])) - 4
					if n > len(resp) {
						resp = make([]byte, n)
					}
					io.ReadFull(r, resp[:n])
					if string(resp[:n]) == "_heartbeat_" {
						c.Write([]byte("NOP\n"))
						continue
					}
					if binary.BigEndian.Uint32(hdr[4:]) != 0 || string(resp[:n]) != "OK" {
						log.Fatalf("unexpected response %q", resp[:n])
					}
					break
				}
				atomic.AddInt64(&total, int64(*batch))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	ops := float64(total) / d.Seconds()
	log.Printf("duration: %s - %.03fmb/s - %.03fops/s - %.03fus/op",
		d, ops*float64(*size)/(1024*1024), ops, float64(d.Microseconds())/float64(total))
}
