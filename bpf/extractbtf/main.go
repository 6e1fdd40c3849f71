// Command extractbtf copies a kernel's BTF (the .BTF section that
// CONFIG_DEBUG_INFO_BTF builds in) out of its boot image, so that a
// vmlinux.h can be made for a kernel that is not running here:
//
//	extractbtf -o vmlinux.btf /boot/vmlinuz-6.1.0-56-arm64
//	bpftool btf dump file vmlinux.btf format c
//
// A boot image is a flat binary (arm64's Image, possibly gzipped, as Debian
// ships it on some releases) with no section table, so the BTF is found by
// its header: the magic 0xeB9F, version 1, then the lengths of the type
// and string areas (include/uapi/linux/btf.h). Every candidate that
// cilium/ebpf parses as BTF describing task_struct is kept, the largest
// wins: a stray match of the magic inside code or data fails to parse.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf/btf"
)

// btfMagic is the BTF header's first four bytes, little-endian: magic
// 0xeB9F, version 1, flags 0.
var btfMagic = []byte{0x9f, 0xeb, 0x01, 0x00}

// header is struct btf_header (include/uapi/linux/btf.h).
type header struct {
	Magic   uint16
	Version uint8
	Flags   uint8
	HdrLen  uint32
	TypeOff uint32
	TypeLen uint32
	StrOff  uint32
	StrLen  uint32
}

func main() {
	out := flag.String("o", "", "file to write the raw BTF to (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: extractbtf -o FILE VMLINUZ")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "extractbtf:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	image, err := readImage(in)
	if err != nil {
		return err
	}
	raw, err := findBTF(image)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		return fmt.Errorf("write btf: %w", err)
	}
	return nil
}

// readImage reads a boot image, gunzipping it when it is gzipped.
func readImage(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzip image: %w", err)
	}
	defer zr.Close()
	data, err = io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gunzip image: %w", err)
	}
	return data, nil
}

// findBTF returns the largest well-formed BTF blob in image that describes
// task_struct, the kernel's.
func findBTF(image []byte) ([]byte, error) {
	var best []byte
	var lastErr error
	for off := 0; ; off++ {
		i := bytes.Index(image[off:], btfMagic)
		if i < 0 {
			break
		}
		off += i
		blob, ok := candidate(image[off:])
		if !ok || len(blob) <= len(best) {
			continue
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
		if err != nil {
			lastErr = err
			continue
		}
		var task *btf.Struct
		if err := spec.TypeByName("task_struct", &task); err != nil {
			lastErr = err
			continue
		}
		best = blob
	}
	if best == nil {
		if lastErr != nil {
			return nil, fmt.Errorf("no kernel BTF found (last candidate: %w)", lastErr)
		}
		return nil, errors.New("no kernel BTF found: was the kernel built with CONFIG_DEBUG_INFO_BTF?")
	}
	return best, nil
}

// candidate checks the header at the start of b and returns the blob it
// spans: header, then types, then strings, as the kernel's build lays
// them out.
func candidate(b []byte) ([]byte, bool) {
	var h header
	if len(b) < binary.Size(h) {
		return nil, false
	}
	if _, err := binary.Decode(b, binary.LittleEndian, &h); err != nil {
		return nil, false
	}
	if h.HdrLen < uint32(binary.Size(h)) || h.TypeOff != 0 || h.StrOff != h.TypeLen || h.StrLen == 0 {
		return nil, false
	}
	end := uint64(h.HdrLen) + uint64(h.StrOff) + uint64(h.StrLen)
	if end > uint64(len(b)) {
		return nil, false
	}
	return b[:end], true
}
