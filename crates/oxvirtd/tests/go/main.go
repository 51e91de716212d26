// golibvirt-check drives a libvirt daemon through go-libvirt (the pure-Go client) and
// prints one line per result, for crates/oxvirtd/tests/golibvirt.rs to compare.
//
// usage: golibvirt-check SOCKET
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func fail(what string, err error) {
	fmt.Printf("FAIL %s: %v\n", what, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: golibvirt-check SOCKET")
		os.Exit(2)
	}
	dialer := dialers.NewLocal(dialers.WithSocket(os.Args[1]), dialers.WithLocalTimeout(5*time.Second))
	l := libvirt.NewWithDialer(dialer)
	if err := l.ConnectToURI(libvirt.TestDefault); err != nil {
		fail("connect", err)
	}
	host, err := l.ConnectGetHostname()
	if err != nil {
		fail("hostname", err)
	}
	fmt.Printf("hostname %s\n", host)
	ver, err := l.ConnectGetLibVersion()
	if err != nil {
		fail("libversion", err)
	}
	fmt.Printf("libversion %d\n", ver)
	uri, err := l.ConnectGetUri()
	if err != nil {
		fail("uri", err)
	}
	fmt.Printf("uri %s\n", uri)

	doms, n, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		fail("list", err)
	}
	names := []string{}
	for _, d := range doms {
		names = append(names, fmt.Sprintf("%s:%d", d.Name, d.ID))
	}
	sort.Strings(names)
	fmt.Printf("domains %d %s\n", n, strings.Join(names, ","))

	dom, err := l.DomainLookupByName("test")
	if err != nil {
		fail("lookup", err)
	}
	state, maxMem, mem, vcpus, _, err := l.DomainGetInfo(dom)
	if err != nil {
		fail("info", err)
	}
	fmt.Printf("info %d %d %d %d\n", state, maxMem, mem, vcpus)

	_, err = l.DomainLookupByName("nosuch")
	var lerr libvirt.Error
	if errors.As(err, &lerr) {
		fmt.Printf("error %d %s\n", lerr.Code, lerr.Message)
	} else {
		fail("lookup nosuch gave no libvirt error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := l.LifecycleEvents(ctx)
	if err != nil {
		fail("events", err)
	}
	if err := l.DomainDestroy(dom); err != nil {
		fail("destroy", err)
	}
	dom, err = l.DomainLookupByName("test")
	if err != nil {
		fail("lookup after destroy", err)
	}
	if err := l.DomainCreate(dom); err != nil {
		fail("create", err)
	}
	for i := 0; i < 2; i++ {
		select {
		case ev := <-events:
			fmt.Printf("event %s %d %d\n", ev.Dom.Name, ev.Event, ev.Detail)
		case <-time.After(5 * time.Second):
			fail("event", errors.New("no event within 5 s"))
		}
	}
	cancel()
	if err := l.Disconnect(); err != nil {
		fail("disconnect", err)
	}
	fmt.Println("done")
}
