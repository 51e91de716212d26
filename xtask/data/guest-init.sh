#!/bin/sh
# /init of oxvirt's test guest (built by `cargo xtask guest`): Debian's cloud kernel plus
# busybox. Prints OXVIRT-GUEST-READY once userspace runs, turns itself off on the ACPI power
# button (QMP system_powerdown), and reports its disks on the serial console at boot and
# whenever the set changes, as `OXVIRT-DISKS: vda vdb`, followed by their sizes in
# 512-byte sectors, as `OXVIRT-DISK-SIZES: vda=131072 vdb=204800`. With `oxvirt.tick` on the
# kernel command line it also ticks on the console (`OXVIRT-TICK: N`, see below); with
# `oxvirt.dirty` it keeps rewriting 8 MiB of memory.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "OXVIRT-GUEST-READY"

# The power button (button, evdev), virtio disks and NICs (the virtio modules, in dependency
# order).
for m in button evdev virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
    virtio_pci virtio_blk failover net_failover virtio_net; do
    insmod "/lib/modules/$m.ko" || echo "OXVIRT-GUEST: insmod $m failed"
done

# A virtio NIC (eth0): a DHCP client in the background, retrying until a server answers (a
# guest on a virtual network gets a lease; one on a bare bridge just keeps asking). Each lease
# is reported as `OXVIRT-LEASE: eth0 ADDRESS/PREFIX`.
ip link set lo up
if [ -d /sys/class/net/eth0 ]; then
    cat >/etc/udhcpc.sh <<'EOF'
#!/bin/sh
case "$1" in
bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do
        ip route replace default via "$r"
        break
    done
    echo "OXVIRT-LEASE: $interface $ip/$mask" >/dev/console
    ;;
deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
esac
exit 0
EOF
    chmod 755 /etc/udhcpc.sh
    ip link set eth0 up
    udhcpc -f -i eth0 -s /etc/udhcpc.sh >/dev/null 2>&1 &
fi

# acpid reads /dev/input/event*: wait for the power button's node, start it, and wait until
# it holds the node open, so a system_powerdown sent after the first disk report is not lost.
i=0
while [ -z "$(ls /dev/input/ 2>/dev/null | grep event)" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
acpid -c /etc/acpi -l /dev/null
i=0
while [ $i -lt 50 ]; do
    pid=$(pidof acpid)
    if [ -n "$pid" ] && ls -l /proc/$pid/fd/ 2>/dev/null | grep -q /dev/input/event; then
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
[ $i -lt 50 ] || echo "OXVIRT-GUEST: acpid is not watching the power button"

# With `oxvirt.tick` on the kernel command line: a tick on the serial console four times a
# second, `OXVIRT-TICK: N` with N counting up from 1, for tests that check the guest runs on
# without a gap (live migration).
case " $(cat /proc/cmdline) " in
*" oxvirt.tick "*)
    (
        n=1
        while :; do
            echo "OXVIRT-TICK: $n"
            n=$((n + 1))
            sleep 0.25
        done
    ) &
    ;;
esac

# With `oxvirt.dirty` on the kernel command line: 8 MiB of memory rewritten over and over
# (a file in the initramfs's RAM), for migration tests that need a guest whose pre-copy
# cannot converge on its own.
case " $(cat /proc/cmdline) " in
*" oxvirt.dirty "*)
    (
        while :; do
            dd if=/dev/zero of=/dirty bs=64k count=128 conv=notrunc 2>/dev/null
        done
    ) &
    ;;
esac

# Report the disks now and whenever the set changes (hot plug, unplug): poll every second.
last=""
while :; do
    line="OXVIRT-DISKS:"
    sizes="OXVIRT-DISK-SIZES:"
    for d in $(ls /sys/block); do
        case "$d" in
            loop* | ram* | zram*) ;;
            *)
                line="$line $d"
                sizes="$sizes $d=$(cat /sys/block/$d/size)"
                ;;
        esac
    done
    if [ "$line" != "$last" ]; then
        echo "$line"
        # The sizes in 512-byte sectors, as /sys/block/*/size gives them.
        echo "$sizes"
        last="$line"
    fi
    sleep 1
done
