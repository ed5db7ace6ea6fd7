//go:build cgo

package datasets

// The libwebp decoder: the library PIL decodes WebP with (Debian's libwebp7), opened at run time
// with dlopen, so that a machine without it still builds and runs, with Go's decoder. It needs no
// header at build time: the three functions of libwebp's stable C API it calls are declared here.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VW_MSG 200

static int (*vw_get_info)(const uint8_t *, size_t, int *, int *);
static uint8_t *(*vw_decode_rgb_into)(const uint8_t *, size_t, uint8_t *, size_t, int);
static int (*vw_decoder_version)(void);
static const char *vw_name = "";

// vw_load opens the library and finds its functions; it returns 0, or -1 with a message in msg.
static int vw_load(char *msg) {
	static const char *names[] = {"libwebp.so.7", "libwebp.so.6"};
	void *h = NULL;
	for (int i = 0; i < 2 && h == NULL; i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		vw_name = names[i];
	}
	if (h == NULL) {
		snprintf(msg, VW_MSG, "dlopen libwebp.so.7 or .6: %s", dlerror());
		return -1;
	}
#define VW_SYM(var, name) \
	*(void **)(&var) = dlsym(h, name); \
	if (!var) { snprintf(msg, VW_MSG, "%s has no %s", vw_name, name); return -1; }
	VW_SYM(vw_get_info, "WebPGetInfo");
	VW_SYM(vw_decode_rgb_into, "WebPDecodeRGBInto");
	VW_SYM(vw_decoder_version, "WebPGetDecoderVersion");
#undef VW_SYM
	return 0;
}

static int vw_info(const uint8_t *data, size_t n, int *w, int *h) { return vw_get_info(data, n, w, h); }

static int vw_decode(const uint8_t *data, size_t n, uint8_t *out, size_t outlen, int stride) {
	return vw_decode_rgb_into(data, n, out, outlen, stride) != NULL;
}

static int vw_version(void) { return vw_decoder_version(); }

static const char *vw_soname(void) { return vw_name; }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func loadLibwebp() error {
	var msg [C.VW_MSG]C.char
	if C.vw_load(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func libwebpName() string {
	v := int(C.vw_version())
	return fmt.Sprintf("libwebp %d.%d.%d (%s through cgo)", v>>16, v>>8&0xff, v&0xff, C.GoString(C.vw_soname()))
}

// webpSizeLib reads the size of a WebP image (its canvas) with libwebp. ok is false when libwebp
// is not loaded, or does not take the file (Go's decoder then says why).
func webpSizeLib(data []byte) (h, w int, ok bool) {
	if webpLib() != nil || len(data) == 0 {
		return 0, 0, false
	}
	var cw, ch C.int
	if C.vw_info((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &cw, &ch) == 0 {
		return 0, 0, false
	}
	return int(ch), int(cw), true
}

// decodeWebPLib decodes a still WebP image to RGB with libwebp, as PIL does (alpha dropped). ok is
// false when libwebp is not loaded or fails on the file, which the caller then gives to Go's
// decoder: libwebp does not say why it failed, Go's decoder does. The size is checked against
// MaxImagePixels before the pixels are allocated.
func decodeWebPLib(data []byte) (img Image, ok bool, err error) {
	h, w, ok := webpSizeLib(data)
	if !ok {
		return Image{}, false, nil
	}
	if err := checkPixels(w, h); err != nil {
		return Image{}, true, err
	}
	img = Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	if C.vw_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.size_t(len(img.Pix)), C.int(3*w)) == 0 {
		return Image{}, false, nil
	}
	return img, true, nil
}
