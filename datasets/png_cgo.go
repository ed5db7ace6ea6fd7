//go:build cgo

package datasets

// The libpng decoder: Debian's libpng16-16, opened at run time with dlopen, so that a machine
// without it still builds and runs, with Go's decoder. It needs no header at build time: the
// functions of libpng 1.6's C API it calls are declared here, with its structures as opaque
// pointers. Errors reach a handler of ours that jumps back (libpng's error functions must not
// return), so no libpng setjmp macro is needed either.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define VP_MSG 200

typedef void (*vp_error_fn)(void *, const char *);
typedef void (*vp_rw_fn)(void *, uint8_t *, size_t);

static void *(*vp_create_read_struct)(const char *, void *, vp_error_fn, vp_error_fn);
static void *(*vp_create_info_struct)(void *);
static void (*vp_destroy_read_struct)(void **, void **, void **);
static void *(*vp_get_error_ptr)(void *);
static void *(*vp_get_io_ptr)(void *);
static void (*vp_set_read_fn)(void *, void *, vp_rw_fn);
static void (*vp_read_info)(void *, void *);
static uint32_t (*vp_get_IHDR)(void *, void *, uint32_t *, uint32_t *, int *, int *, int *, int *, int *);
static uint32_t (*vp_get_PLTE)(void *, void *, uint8_t **, int *);
static void (*vp_set_packing)(void *);
static void (*vp_set_expand_gray_1_2_4_to_8)(void *);
static void (*vp_set_strip_16)(void *);
static void (*vp_set_strip_alpha)(void *);
static void (*vp_set_gray_to_rgb)(void *);
static int (*vp_set_interlace_handling)(void *);
static void (*vp_read_update_info)(void *, void *);
static size_t (*vp_get_rowbytes)(void *, void *);
static uint8_t (*vp_get_channels)(void *, void *);
static void (*vp_read_row)(void *, uint8_t *, uint8_t *);
static void (*vp_read_end)(void *, void *);
static const char *(*vp_get_libpng_ver)(void *);

static const char *vp_soname = "libpng16.so.16";

// vp_load opens the library and finds its functions; it returns 0, or -1 with a message in msg.
static int vp_load(char *msg) {
	void *h = dlopen(vp_soname, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(msg, VP_MSG, "dlopen %s: %s", vp_soname, dlerror());
		return -1;
	}
#define VP_SYM(var, name) \
	*(void **)(&var) = dlsym(h, name); \
	if (!var) { snprintf(msg, VP_MSG, "%s has no %s", vp_soname, name); return -1; }
	VP_SYM(vp_create_read_struct, "png_create_read_struct");
	VP_SYM(vp_create_info_struct, "png_create_info_struct");
	VP_SYM(vp_destroy_read_struct, "png_destroy_read_struct");
	VP_SYM(vp_get_error_ptr, "png_get_error_ptr");
	VP_SYM(vp_get_io_ptr, "png_get_io_ptr");
	VP_SYM(vp_set_read_fn, "png_set_read_fn");
	VP_SYM(vp_read_info, "png_read_info");
	VP_SYM(vp_get_IHDR, "png_get_IHDR");
	VP_SYM(vp_get_PLTE, "png_get_PLTE");
	VP_SYM(vp_set_packing, "png_set_packing");
	VP_SYM(vp_set_expand_gray_1_2_4_to_8, "png_set_expand_gray_1_2_4_to_8");
	VP_SYM(vp_set_strip_16, "png_set_strip_16");
	VP_SYM(vp_set_strip_alpha, "png_set_strip_alpha");
	VP_SYM(vp_set_gray_to_rgb, "png_set_gray_to_rgb");
	VP_SYM(vp_set_interlace_handling, "png_set_interlace_handling");
	VP_SYM(vp_read_update_info, "png_read_update_info");
	VP_SYM(vp_get_rowbytes, "png_get_rowbytes");
	VP_SYM(vp_get_channels, "png_get_channels");
	VP_SYM(vp_read_row, "png_read_row");
	VP_SYM(vp_read_end, "png_read_end");
	VP_SYM(vp_get_libpng_ver, "png_get_libpng_ver");
#undef VP_SYM
	return 0;
}

static const char *vp_version(void) { return vp_get_libpng_ver(NULL); }
static const char *vp_name(void) { return vp_soname; }

// vp_ctx is one decode's state: the file in memory, how much of it libpng has read, and where an
// error jumps to, with its message.
typedef struct {
	const uint8_t *data;
	size_t n, off;
	jmp_buf jump;
	char msg[VP_MSG];
} vp_ctx;

static void vp_error(void *png, const char *m) {
	vp_ctx *c = (vp_ctx *)vp_get_error_ptr(png);
	snprintf(c->msg, VP_MSG, "%s", m);
	longjmp(c->jump, 1);
}

// Warnings (a bad ancillary chunk, which libpng skips) are silent, as in PIL.
static void vp_warning(void *png, const char *m) {}

static void vp_read(void *png, uint8_t *out, size_t n) {
	vp_ctx *c = (vp_ctx *)vp_get_io_ptr(png);
	if (n > c->n - c->off) {
		vp_error(png, "unexpected end of file");
	}
	memcpy(out, c->data + c->off, n);
	c->off += n;
}

// vp_decode decodes a PNG to 8-bit RGB rows of w*3 bytes in out (which holds w*h*3), with PIL's
// convert("RGB") semantics: palettes looked up (an index past the palette's end is gray, its own
// value in each channel, as in PIL, whose palettes start as a gray ramp), gray of 1, 2 or 4 bits
// scaled to 8, 16-bit samples cut to their high byte, alpha and tRNS dropped, gray replicated; no
// gamma correction. The size must be the file's (the caller read it from the header). It returns
// 0, or -1 with a message in msg.
static int vp_decode(const uint8_t *data, size_t n, uint8_t *out, uint32_t w, uint32_t h, char *msg) {
	vp_ctx c;
	memset(&c, 0, sizeof(c));
	c.data = data;
	c.n = n;
	void *volatile png = NULL;
	void *volatile info = NULL;
	if (setjmp(c.jump)) {
		void *p = png, *i = info;
		vp_destroy_read_struct(&p, i ? &i : NULL, NULL);
		snprintf(msg, VP_MSG, "%s", c.msg);
		return -1;
	}
	png = vp_create_read_struct(vp_get_libpng_ver(NULL), &c, vp_error, vp_warning);
	if (png == NULL) {
		snprintf(msg, VP_MSG, "png_create_read_struct failed");
		return -1;
	}
	info = vp_create_info_struct(png);
	if (info == NULL) {
		vp_error(png, "png_create_info_struct failed");
	}
	vp_set_read_fn(png, &c, vp_read);
	vp_read_info(png, info);
	uint32_t iw, ih;
	int depth, color, interlace;
	vp_get_IHDR(png, info, &iw, &ih, &depth, &color, &interlace, NULL, NULL);
	char why[VP_MSG];
	if (iw != w || ih != h) {
		snprintf(why, VP_MSG, "libpng read %ux%u pixels, want %ux%u", iw, ih, w, h);
		vp_error(png, why);
	}
	// A palette image is read as one index per byte into the last third of out, then looked up
	// into the whole of it: pixel i is written at 3i..3i+2, before index i+1 at 2wh+i+1.
	int paletted = color == 3;
	uint8_t lut[256][3];
	if (paletted) {
		for (int i = 0; i < 256; i++) {
			lut[i][0] = lut[i][1] = lut[i][2] = (uint8_t)i;
		}
		uint8_t *plte = NULL;
		int num = 0;
		vp_get_PLTE(png, info, &plte, &num);
		for (int i = 0; i < num && i < 256; i++) {
			memcpy(lut[i], plte + 3 * i, 3);
		}
		vp_set_packing(png);
	}
	if (color == 0 && depth < 8) {
		vp_set_expand_gray_1_2_4_to_8(png);
	}
	if (depth == 16) {
		vp_set_strip_16(png);
	}
	if (color & 4) {
		vp_set_strip_alpha(png);
	}
	if (color == 0 || color == 4) {
		vp_set_gray_to_rgb(png);
	}
	int passes = vp_set_interlace_handling(png);
	vp_read_update_info(png, info);
	size_t channels = paletted ? 1 : 3;
	if (vp_get_channels(png, info) != channels || vp_get_rowbytes(png, info) != (size_t)w * channels) {
		snprintf(why, VP_MSG, "libpng gives %d channels and rows of %zu bytes, want %zu and %zu",
			vp_get_channels(png, info), vp_get_rowbytes(png, info), channels, (size_t)w * channels);
		vp_error(png, why);
	}
	uint8_t *rows = paletted ? out + (size_t)w * h * 2 : out;
	for (int p = 0; p < passes; p++) {
		for (uint32_t y = 0; y < h; y++) {
			vp_read_row(png, rows + (size_t)y * w * channels, NULL);
		}
	}
	vp_read_end(png, NULL);
	void *p = png, *i = info;
	vp_destroy_read_struct(&p, &i, NULL);
	if (paletted) {
		for (size_t i = 0, np = (size_t)w * h; i < np; i++) {
			memcpy(out + 3 * i, lut[rows[i]], 3);
		}
	}
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func loadLibpng() error {
	var msg [C.VP_MSG]C.char
	if C.vp_load(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func libpngName() string {
	return fmt.Sprintf("libpng %s (%s through cgo)", C.GoString(C.vp_version()), C.GoString(C.vp_name()))
}

// decodePNGLib decodes a PNG of h x w pixels (its header's size, checked against MaxImagePixels by
// the caller) to RGB with libpng. ok is false when libpng is not loaded or fails on the file, which
// the caller then gives to Go's decoder, so that a bad file is refused with Go's message, as on a
// machine without libpng.
func decodePNGLib(data []byte, h, w int) (img Image, ok bool) {
	if pngLib() != nil || len(data) == 0 || h <= 0 || w <= 0 {
		return Image{}, false
	}
	img = Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	var msg [C.VP_MSG]C.char
	if C.vp_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.uint32_t(w), C.uint32_t(h), &msg[0]) != 0 {
		return Image{}, false
	}
	return img, true
}
