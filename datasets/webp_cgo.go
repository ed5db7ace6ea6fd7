//go:build cgo

package datasets

// The libwebp decoder: the library PIL decodes WebP with (Debian's libwebp7), opened at run time
// with dlopen, so that a machine without it still builds and runs, with Go's decoder. It needs no
// header at build time: the three functions of libwebp's stable C API it calls are declared here,
// and the five of libwebpdemux's animation decoder (Debian's libwebpdemux2), with its structures,
// which render the first frame of an animated WebP as PIL does.

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

// libwebpdemux's WebPData, WebPAnimDecoderOptions and WebPAnimInfo (demux.h, ABI 0x0107: an
// incompatible library has another major byte, which its functions refuse).
typedef struct {
	const uint8_t *bytes;
	size_t size;
} vw_data;
typedef struct {
	int color_mode; // WEBP_CSP_MODE: MODE_RGBA is 1
	int use_threads;
	uint32_t padding[7];
} vw_anim_options;
typedef struct {
	uint32_t canvas_width, canvas_height, loop_count, bgcolor, frame_count;
	uint32_t pad[4];
} vw_anim_info;
#define VW_DEMUX_ABI 0x0107

static int (*vw_anim_options_init)(vw_anim_options *, int);
static void *(*vw_anim_new)(const vw_data *, const vw_anim_options *, int);
static int (*vw_anim_get_info)(void *, vw_anim_info *);
static int (*vw_anim_get_next)(void *, uint8_t **, int *);
static void (*vw_anim_delete)(void *);

// vw_load_demux opens libwebpdemux and finds its animation decoder; it returns 0, or -1 with a
// message in msg.
static int vw_load_demux(char *msg) {
	void *h = dlopen("libwebpdemux.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(msg, VW_MSG, "dlopen libwebpdemux.so.2: %s", dlerror());
		return -1;
	}
#define VW_SYM(var, name) \
	*(void **)(&var) = dlsym(h, name); \
	if (!var) { snprintf(msg, VW_MSG, "libwebpdemux.so.2 has no %s", name); return -1; }
	VW_SYM(vw_anim_options_init, "WebPAnimDecoderOptionsInitInternal");
	VW_SYM(vw_anim_new, "WebPAnimDecoderNewInternal");
	VW_SYM(vw_anim_get_info, "WebPAnimDecoderGetInfo");
	VW_SYM(vw_anim_get_next, "WebPAnimDecoderGetNext");
	VW_SYM(vw_anim_delete, "WebPAnimDecoderDelete");
#undef VW_SYM
	return 0;
}

// vw_anim_first renders the first frame of an animated WebP of a w x h canvas (the caller read it
// from the VP8X chunk) in RGBA, as PIL asks for it, and keeps its RGB in out: 0, or -1 when
// libwebpdemux fails on the file.
static int vw_anim_first(const uint8_t *data, size_t n, uint8_t *out, uint32_t w, uint32_t h) {
	vw_anim_options o;
	if (!vw_anim_options_init(&o, VW_DEMUX_ABI)) {
		return -1;
	}
	o.color_mode = 1;
	o.use_threads = 0;
	vw_data d = {data, n};
	void *dec = vw_anim_new(&d, &o, VW_DEMUX_ABI);
	if (dec == NULL) {
		return -1;
	}
	vw_anim_info info;
	uint8_t *rgba = NULL;
	int ts = 0, ret = -1;
	if (vw_anim_get_info(dec, &info) && info.canvas_width == w && info.canvas_height == h && vw_anim_get_next(dec, &rgba, &ts)) {
		for (size_t i = 0; i < (size_t)w * h; i++) {
			out[3 * i] = rgba[4 * i], out[3 * i + 1] = rgba[4 * i + 1], out[3 * i + 2] = rgba[4 * i + 2];
		}
		ret = 0;
	}
	vw_anim_delete(dec);
	return ret;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
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
	anim := "animations with libwebpdemux.so.2"
	if err := webpDemux(); err != nil {
		anim = "no animations: " + err.Error()
	}
	return fmt.Sprintf("libwebp %d.%d.%d (%s through cgo; %s)", v>>16, v>>8&0xff, v&0xff, C.GoString(C.vw_soname()), anim)
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

// webpDemux is whether libwebpdemux is loaded (nil) or why not.
var webpDemux = sync.OnceValue(func() error {
	var msg [C.VW_MSG]C.char
	if C.vw_load_demux(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
})

// webpAnimLib returns nil when libwebpdemux is loaded, or why an animated WebP is not decoded.
func webpAnimLib() error {
	err := webpLib()
	if err != nil {
		err = fmt.Errorf("libwebp is not used: %w", err)
	} else {
		err = webpDemux()
	}
	switch {
	case libwebp.forced():
		return errors.New("an animated WebP, whose first frame (which PIL reads) is decoded with libwebp and libwebpdemux only: unset VICREG_WEBP=go, or convert that frame to PNG")
	case err != nil:
		return fmt.Errorf("an animated WebP, whose first frame (which PIL reads) is decoded with libwebp and libwebpdemux only (Debian's libwebp7 and libwebpdemux2), not here (%v); install them, or convert that frame to PNG", err)
	}
	return nil
}

// decodeWebPAnimLib decodes the first frame of an animated WebP of a canvas of h x w pixels
// (checked against MaxImagePixels by the caller) to RGB with libwebpdemux, as PIL does: the frame
// drawn on a transparent black canvas, then alpha dropped.
func decodeWebPAnimLib(data []byte, h, w int) (Image, error) {
	if err := webpAnimLib(); err != nil {
		return Image{}, err
	}
	img := Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	if C.vw_anim_first((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.uint32_t(w), C.uint32_t(h)) != 0 {
		return Image{}, errors.New("an animated WebP that libwebpdemux does not decode: not a valid WebP file")
	}
	return img, nil
}
