// golibvirt-node drives the node statistics and placement procedures of a libvirt
// daemon through go-libvirt (which sends the raw procedures: count-only calls, maplen,
// limits are the caller's) and prints one line per result, for
// crates/oxvirtd/tests/golibvirt_node.rs to compare.
//
// usage: golibvirt-node SOCKET
package main

import (
	"fmt"
	"os"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func show(what string, err error) {
	if e, ok := err.(libvirt.Error); ok {
		fmt.Printf("%s error %d %s\n", what, e.Code, e.Message)
	} else if err != nil {
		fmt.Printf("%s error %v\n", what, err)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: golibvirt-node SOCKET")
		os.Exit(2)
	}
	dialer := dialers.NewLocal(dialers.WithSocket(os.Args[1]), dialers.WithLocalTimeout(5*time.Second))
	l := libvirt.NewWithDialer(dialer)
	if err := l.ConnectToURI(libvirt.TestDefault); err != nil {
		fmt.Printf("connect error %v\n", err)
		os.Exit(1)
	}
	params, n, err := l.NodeGetCPUStats(-1, 0, 0)
	show("cpustats-count", err)
	fmt.Printf("cpustats-count %d %d\n", len(params), n)
	params, _, err = l.NodeGetCPUStats(-1, n, 0)
	show("cpustats", err)
	for _, p := range params {
		fmt.Printf("cpustat %s %d\n", p.Field, p.Value)
	}
	_, _, err = l.NodeGetCPUStats(-1, 17, 0)
	show("cpustats-17", err)
	_, _, err = l.NodeGetMemoryStats(0, -1, 0)
	show("memstats", err)
	cpumap, online, cpus, err := l.NodeGetCPUMap(1, 1, 0)
	show("cpumap", err)
	fmt.Printf("cpumap %x %d %d\n", cpumap, online, cpus)
	counts, err := l.NodeGetFreePages([]uint32{4, 2048}, 0, 2, 0)
	show("freepages", err)
	fmt.Printf("freepages %v\n", counts)
	_, err = l.NodeGetFreePages(make([]uint32, 600), 0, 2, 0)
	show("freepages-big", err)

	dom, err := l.DomainLookupByName("test")
	show("lookup", err)
	info, maps, err := l.DomainGetVcpus(dom, 2, 1)
	show("vcpus", err)
	for _, v := range info {
		fmt.Printf("vcpu %d %d %d\n", v.Number, v.State, v.CPU)
	}
	fmt.Printf("vcpumaps %x\n", maps)
	_, _, err = l.DomainGetVcpus(dom, 16385, 1)
	show("vcpus-big", err)
	err = l.DomainPinVcpuFlags(dom, 1, []byte{0x06}, 0)
	show("pin", err)
	pins, num, err := l.DomainGetVcpuPinInfo(dom, 2, 1, 0)
	show("pininfo", err)
	fmt.Printf("pininfo %d %x\n", num, pins)
	err = l.DomainPinEmulator(dom, []byte{0x03}, 0)
	show("pinemu", err)
	emu, r, err := l.DomainGetEmulatorPinInfo(dom, 1, 0)
	show("emuinfo", err)
	fmt.Printf("emuinfo %d %x\n", r, emu)
	threads, nthreads, err := l.DomainGetIothreadInfo(dom, 0)
	show("iothreads", err)
	fmt.Printf("iothreads %d %d\n", len(threads), nthreads)
	np, nn, err := l.DomainGetNumaParameters(dom, 0, 0)
	show("numa-count", err)
	fmt.Printf("numa-count %d %d\n", len(np), nn)
	np, _, err = l.DomainGetNumaParameters(dom, 2, 4)
	show("numa", err)
	for _, p := range np {
		fmt.Printf("numa %s %v\n", p.Field, p.Value.I)
	}
	fmt.Println("done")
}
