# Sparse volume transfers through python3-libvirt: a sparse download reports the volume's
# holes, a dense one only data; a sparse upload's hole reads back as zeroes; a hole in a
# non-sparse upload is refused; an aborted upload leaves the volume free to delete. The
# same script run against Debian's libvirtd 9.0 prints the same lines.
#
# usage: storage_sparse.py URI POOL_NAME TARGET_DIR
import sys, os, libvirt
uri, name, target = sys.argv[1:4]
libvirt.registerErrorHandler(lambda *_: None, None)
c = libvirt.open(uri)
os.makedirs(target, exist_ok=True)
p = c.storagePoolCreateXML("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, target), 0)
v = p.createXML("<volume><name>s</name><capacity>4194304</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>", 0)
with open(v.path(), "r+b") as f:
    f.seek(0); f.write(b"A" * 4096)
    f.seek(2 << 20); f.write(b"B" * 8192)
p.refresh(0)
print("info", v.info())
def download(flags):
    st = c.newStream(0)
    v.download(st, 0, 0, flags)
    seq = []
    while True:
        if flags:
            d = st.recvFlags(262144, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
            if d == -3:
                seq.append(("H", st.recvHole(0))); continue
            if d == -2:
                raise Exception("bad %r" % d)
            if len(d) == 0:
                break
        else:
            d = st.recv(262144)
            if len(d) == 0: break
        if isinstance(d, bytes):
            if seq and seq[-1][0] == "D": seq[-1] = ("D", seq[-1][1] + len(d))
            else: seq.append(("D", len(d)))
    st.finish()
    return seq
print("sparse", download(libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM))
print("dense", download(0))
# A sparse upload into a fresh volume: data, a hole, data.
u = p.createXML("<volume><name>u</name><capacity>4194304</capacity><allocation>0</allocation><target><format type='raw'/></target></volume>", 0)
st = c.newStream(0)
u.upload(st, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
st.send(b"C" * 1000)
st.sendHole(1 << 20, 0)
st.send(b"D" * 1000)
st.finish()
data = open(u.path(), "rb").read()
print("uploaded", data[:1000] == b"C" * 1000, data[1000:1000 + (1 << 20)].count(0),
      data[1000 + (1 << 20):1000 + (1 << 20) + 1000] == b"D" * 1000)
u.delete(0)
st = c.newStream(0)
v.upload(st, 0, 0, 0)
try:
    st.sendHole(10, 0)
    st.finish()
    print("hole in dense upload: accepted")
except libvirt.libvirtError as e:
    print("hole in dense upload:", e.get_error_code(), e.get_error_domain(), e)
    try: st.abort()
    except libvirt.libvirtError: pass
v.delete(0)
p.destroy()
print("done")
