#!/bin/sh
# /init of oxvirt's test guest (built by `cargo xtask guest`): Debian's cloud kernel plus
# busybox. Prints OXVIRT-GUEST-READY once userspace runs, turns itself off on the ACPI power
# button (QMP system_powerdown), and reports its disks on the serial console at boot and
# whenever the set changes, as `OXVIRT-DISKS: vda vdb`.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "OXVIRT-GUEST-READY"

# The power button (button, evdev) and virtio disks (the virtio modules, in dependency order).
for m in button evdev virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
    virtio_pci virtio_blk; do
    insmod "/lib/modules/$m.ko" || echo "OXVIRT-GUEST: insmod $m failed"
done

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

# Report the disks now and whenever the set changes (hot plug, unplug): poll every second.
last=""
while :; do
    line="OXVIRT-DISKS:"
    for d in $(ls /sys/block); do
        case "$d" in
            loop* | ram* | zram*) ;;
            *) line="$line $d" ;;
        esac
    done
    if [ "$line" != "$last" ]; then
        echo "$line"
        last="$line"
    fi
    sleep 1
done
