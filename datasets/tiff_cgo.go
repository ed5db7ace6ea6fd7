//go:build cgo

package datasets

// The libtiff decoder: the library PIL decodes compressed TIFF with (Debian's libtiff6), opened at
// run time with dlopen, so that a machine without it still builds and runs, with Go's decoder. It
// needs no header at build time: the functions of libtiff 4's C API it calls are declared here,
// with TIFF* as an opaque pointer. libtiff decompresses (and undoes predictors, bit order and byte
// order); the samples are converted to RGB here, as PIL converts them, for the layouts Go's
// decoder reads too; any other file goes to Go's decoder, which reads it or says why not.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_MSG 200

typedef int64_t (*vt_rw_fn)(void *, void *, int64_t);
typedef uint64_t (*vt_seek_fn)(void *, uint64_t, int);
typedef int (*vt_close_fn)(void *);
typedef uint64_t (*vt_size_fn)(void *);
typedef int (*vt_map_fn)(void *, void **, uint64_t *);
typedef void (*vt_unmap_fn)(void *, void *, uint64_t);

static void *(*vt_client_open)(const char *, const char *, void *, vt_rw_fn, vt_rw_fn, vt_seek_fn, vt_close_fn,
	vt_size_fn, vt_map_fn, vt_unmap_fn);
static void (*vt_close)(void *);
static int (*vt_get_field)(void *, uint32_t, ...);
static int (*vt_get_field_defaulted)(void *, uint32_t, ...);
static int (*vt_is_tiled)(void *);
static uint32_t (*vt_number_of_strips)(void *);
static int64_t (*vt_read_encoded_strip)(void *, uint32_t, void *, int64_t);
static int64_t (*vt_read_encoded_tile)(void *, uint32_t, void *, int64_t);
static int64_t (*vt_tile_size)(void *);
static int64_t (*vt_tile_row_size)(void *);
static int64_t (*vt_scanline_size)(void *);
static void *(*vt_set_error_handler)(void *);
static void *(*vt_set_warning_handler)(void *);
static const char *(*vt_get_version)(void);

static const char *vt_name = "";

// vt_load opens the library, finds its functions and silences its messages (failures are read from
// return values); it returns 0, or -1 with a message in msg.
static int vt_load(char *msg) {
	static const char *names[] = {"libtiff.so.6", "libtiff.so.5"};
	void *h = NULL;
	for (int i = 0; i < 2 && h == NULL; i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		vt_name = names[i];
	}
	if (h == NULL) {
		snprintf(msg, VT_MSG, "dlopen libtiff.so.6 or .5: %s", dlerror());
		return -1;
	}
#define VT_SYM(var, name) \
	*(void **)(&var) = dlsym(h, name); \
	if (!var) { snprintf(msg, VT_MSG, "%s has no %s", vt_name, name); return -1; }
	VT_SYM(vt_client_open, "TIFFClientOpen");
	VT_SYM(vt_close, "TIFFClose");
	VT_SYM(vt_get_field, "TIFFGetField");
	VT_SYM(vt_get_field_defaulted, "TIFFGetFieldDefaulted");
	VT_SYM(vt_is_tiled, "TIFFIsTiled");
	VT_SYM(vt_number_of_strips, "TIFFNumberOfStrips");
	VT_SYM(vt_read_encoded_strip, "TIFFReadEncodedStrip");
	VT_SYM(vt_read_encoded_tile, "TIFFReadEncodedTile");
	VT_SYM(vt_tile_size, "TIFFTileSize");
	VT_SYM(vt_tile_row_size, "TIFFTileRowSize");
	VT_SYM(vt_scanline_size, "TIFFScanlineSize");
	VT_SYM(vt_set_error_handler, "TIFFSetErrorHandler");
	VT_SYM(vt_set_warning_handler, "TIFFSetWarningHandler");
	VT_SYM(vt_get_version, "TIFFGetVersion");
#undef VT_SYM
	vt_set_error_handler(NULL);
	vt_set_warning_handler(NULL);
	return 0;
}

static const char *vt_soname(void) { return vt_name; }

// vt_version is the first line of TIFFGetVersion's text ("LIBTIFF, Version 4.5.0").
static void vt_version(char *out) {
	snprintf(out, VT_MSG, "%s", vt_get_version());
	char *nl = strchr(out, '\n');
	if (nl != NULL) {
		*nl = 0;
	}
}

// The file, in memory, as libtiff's client procedures read it (mapped: strips are read in place).
typedef struct {
	const uint8_t *data;
	uint64_t n, off;
} vt_src;

static int64_t vt_read(void *h, void *buf, int64_t size) {
	vt_src *s = (vt_src *)h;
	uint64_t left = s->off < s->n ? s->n - s->off : 0;
	if (size < 0) {
		return -1;
	}
	if ((uint64_t)size > left) {
		size = (int64_t)left;
	}
	if (size == 0) {
		return 0;
	}
	memcpy(buf, s->data + s->off, (size_t)size);
	s->off += (uint64_t)size;
	return size;
}
static int64_t vt_write(void *h, void *buf, int64_t size) { return -1; }
static uint64_t vt_seek(void *h, uint64_t off, int whence) {
	vt_src *s = (vt_src *)h;
	switch (whence) {
	case SEEK_CUR:
		off += s->off;
		break;
	case SEEK_END:
		off += s->n;
		break;
	}
	s->off = off;
	return off;
}
static int vt_closeproc(void *h) { return 0; }
static uint64_t vt_size(void *h) { return ((vt_src *)h)->n; }
static int vt_map(void *h, void **base, uint64_t *size) {
	vt_src *s = (vt_src *)h;
	*base = (void *)s->data;
	*size = s->n;
	return 1;
}
static void vt_unmap(void *h, void *base, uint64_t size) {}

// The layouts converted here, each as PIL's convert("RGB") converts it.
enum {
	VT_GRAY1,     // bilevel, BlackIsZero: 1 is white
	VT_GRAY1_INV, // bilevel, WhiteIsZero: 0 is white
	VT_GRAY8,
	VT_GRAY8_INV, // WhiteIsZero: inverted
	VT_GRAY16,    // the high byte
	VT_PAL8,      // the colormap's high bytes
	VT_RGB8,      // RGB, and a fourth sample (ExtraSamples 0 or 2) dropped
	VT_RGBA8_PRE, // premultiplied alpha (ExtraSamples 1) divided out: v*255/a rounded down, 0 where a is 0
	VT_RGB16,     // the high bytes
	VT_RGBA16_PRE,
};

static uint8_t vt_unpremultiply(int v, int a) {
	if (a == 255) {
		return (uint8_t)v;
	}
	if (a == 0) {
		return 0;
	}
	v = v * 255 / a;
	return (uint8_t)(v > 255 ? 255 : v);
}

// vt_row converts n pixels of one row of samples (spp a pixel) to RGB.
static void vt_row(int kind, const uint8_t *src, uint8_t *dst, uint32_t n, int spp, uint8_t (*lut)[3]) {
	const uint16_t *s16 = (const uint16_t *)src; // host order: libtiff swaps the file's
	switch (kind) {
	case VT_GRAY1:
	case VT_GRAY1_INV: {
		uint8_t one = kind == VT_GRAY1 ? 255 : 0;
		for (uint32_t x = 0; x < n; x++) {
			uint8_t v = (src[x >> 3] >> (7 - (x & 7))) & 1 ? one : 255 - one;
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = v;
		}
		break;
	}
	case VT_GRAY8:
		for (uint32_t x = 0; x < n; x++) {
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[x];
		}
		break;
	case VT_GRAY8_INV:
		for (uint32_t x = 0; x < n; x++) {
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = 255 - src[x];
		}
		break;
	case VT_GRAY16:
		for (uint32_t x = 0; x < n; x++) {
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = s16[x] >> 8;
		}
		break;
	case VT_PAL8:
		for (uint32_t x = 0; x < n; x++) {
			memcpy(dst + 3 * x, lut[src[x]], 3);
		}
		break;
	case VT_RGB8:
		if (spp == 3) {
			memcpy(dst, src, (size_t)n * 3);
			break;
		}
		for (uint32_t x = 0; x < n; x++) {
			memcpy(dst + 3 * x, src + (size_t)x * spp, 3);
		}
		break;
	case VT_RGBA8_PRE:
		for (uint32_t x = 0; x < n; x++) {
			const uint8_t *p = src + (size_t)x * 4;
			dst[3 * x] = vt_unpremultiply(p[0], p[3]);
			dst[3 * x + 1] = vt_unpremultiply(p[1], p[3]);
			dst[3 * x + 2] = vt_unpremultiply(p[2], p[3]);
		}
		break;
	case VT_RGB16:
		for (uint32_t x = 0; x < n; x++) {
			const uint16_t *p = s16 + (size_t)x * spp;
			dst[3 * x] = p[0] >> 8, dst[3 * x + 1] = p[1] >> 8, dst[3 * x + 2] = p[2] >> 8;
		}
		break;
	case VT_RGBA16_PRE:
		for (uint32_t x = 0; x < n; x++) {
			const uint16_t *p = s16 + (size_t)x * 4;
			int a = p[3] >> 8;
			dst[3 * x] = vt_unpremultiply(p[0] >> 8, a);
			dst[3 * x + 1] = vt_unpremultiply(p[1] >> 8, a);
			dst[3 * x + 2] = vt_unpremultiply(p[2] >> 8, a);
		}
		break;
	}
}

// vt_kind returns the layout of the open image, or -1 for one left to Go's decoder: compressions
// other than those Go's decoder reads too (none, LZW, Deflate, PackBits) and predictors other than
// none and horizontal, so that the files both decoders read give the same pixels. The reversed bit
// order (FillOrder 2) is read here, as by PIL; Go's decoder refuses it.
static int vt_kind(void *tif, int *spp_out, uint8_t (*lut)[3]) {
	uint16_t bps = 0, spp = 0, photometric = 0, planar = 0, format = 0, nextra = 0, compression = 0, predictor = 1, fill = 0;
	uint16_t *extra = NULL;
	if (!vt_get_field(tif, 262, &photometric)) { // Photometric: required
		return -1;
	}
	vt_get_field_defaulted(tif, 259, &compression);
	vt_get_field_defaulted(tif, 266, &fill);
	if (compression == 5 || compression == 8 || compression == 32946) {
		vt_get_field(tif, 317, &predictor); // a tag of these codecs only; absent: none
	} else if (compression != 1 && compression != 32773) {
		return -1;
	}
	if ((predictor != 1 && predictor != 2) || (fill != 1 && fill != 2)) {
		return -1;
	}
	vt_get_field_defaulted(tif, 258, &bps);
	vt_get_field_defaulted(tif, 277, &spp);
	vt_get_field_defaulted(tif, 284, &planar);
	vt_get_field_defaulted(tif, 339, &format);
	vt_get_field_defaulted(tif, 338, &nextra, &extra);
	*spp_out = spp;
	if (format != 1 || (planar != 1 && spp > 1)) {
		return -1;
	}
	switch (photometric) {
	case 0: // WhiteIsZero
	case 1: // BlackIsZero
		if (spp != 1) {
			return -1;
		}
		if (bps == 1) {
			return photometric == 1 ? VT_GRAY1 : VT_GRAY1_INV;
		}
		if (bps == 8) {
			return photometric == 1 ? VT_GRAY8 : VT_GRAY8_INV;
		}
		return bps == 16 && photometric == 1 ? VT_GRAY16 : -1;
	case 2: // RGB
		if (bps != 8 && bps != 16) {
			return -1;
		}
		if (spp == 3) {
			return bps == 8 ? VT_RGB8 : VT_RGB16;
		}
		if (spp != 4 || nextra != 1 || extra == NULL || extra[0] > 2) {
			return -1;
		}
		if (extra[0] == 1) {
			return bps == 8 ? VT_RGBA8_PRE : VT_RGBA16_PRE;
		}
		return bps == 8 ? VT_RGB8 : VT_RGB16;
	case 3: { // palette
		uint16_t *r = NULL, *g = NULL, *b = NULL;
		if (spp != 1 || bps != 8 || !vt_get_field(tif, 320, &r, &g, &b) || r == NULL || g == NULL || b == NULL) {
			return -1;
		}
		for (int i = 0; i < 256; i++) {
			lut[i][0] = r[i] >> 8, lut[i][1] = g[i] >> 8, lut[i][2] = b[i] >> 8;
		}
		return VT_PAL8;
	}
	}
	return -1;
}

// vt_decode decodes the first image of a TIFF file of w x h pixels (the caller read the size from
// its header) to RGB in out. It returns 0; 1 when the image is of a layout left to Go's decoder;
// -1 with a message in msg when libtiff fails on it.
static int vt_decode(const uint8_t *data, size_t n, uint8_t *out, uint32_t w, uint32_t h, char *msg) {
	vt_src src = {data, n, 0};
	void *tif = vt_client_open("image", "r", &src, vt_read, vt_write, vt_seek, vt_closeproc, vt_size, vt_map, vt_unmap);
	if (tif == NULL) {
		snprintf(msg, VT_MSG, "libtiff did not open the file");
		return -1;
	}
	int ret = 0, spp = 1;
	uint8_t *buf = NULL;
	uint8_t (*pal)[3] = malloc(256 * 3); // the palette's colors, for VT_PAL8
	uint32_t iw = 0, ih = 0;
	vt_get_field(tif, 256, &iw);
	vt_get_field(tif, 257, &ih);
	int kind = pal == NULL ? -1 : vt_kind(tif, &spp, pal);
	if (kind < 0) {
		ret = 1;
		goto done;
	}
	if (iw != w || ih != h) {
		snprintf(msg, VT_MSG, "libtiff read %ux%u pixels, want %ux%u", iw, ih, w, h);
		ret = -1;
		goto done;
	}
	if (vt_is_tiled(tif)) {
		uint32_t tw = 0, th = 0;
		vt_get_field(tif, 322, &tw);
		vt_get_field(tif, 323, &th);
		int64_t size = vt_tile_size(tif), rowbytes = vt_tile_row_size(tif);
		if (tw == 0 || th == 0 || rowbytes <= 0 || size < rowbytes * (int64_t)th || (buf = malloc((size_t)size)) == NULL) {
			ret = 1;
			goto done;
		}
		uint32_t across = (w + tw - 1) / tw;
		for (uint32_t ty = 0; ty < h; ty += th) {
			for (uint32_t tx = 0; tx < w; tx += tw) {
				uint32_t t = (ty / th) * across + tx / tw;
				if (vt_read_encoded_tile(tif, t, buf, size) < 0) {
					snprintf(msg, VT_MSG, "libtiff failed on tile %u", t);
					ret = -1;
					goto done;
				}
				uint32_t cols = w - tx < tw ? w - tx : tw;
				for (uint32_t y = 0; y < th && ty + y < h; y++) {
					vt_row(kind, buf + (size_t)y * rowbytes, out + ((size_t)(ty + y) * w + tx) * 3, cols, spp, pal);
				}
			}
		}
	} else {
		uint32_t rps = 0;
		vt_get_field_defaulted(tif, 278, &rps);
		int64_t line = vt_scanline_size(tif);
		if (rps == 0 || rps > h) {
			rps = h;
		}
		if (line <= 0 || (buf = malloc((size_t)line * rps)) == NULL) {
			ret = 1;
			goto done;
		}
		uint32_t strips = vt_number_of_strips(tif);
		for (uint32_t y0 = 0, s = 0; y0 < h; y0 += rps, s++) {
			uint32_t rows = h - y0 < rps ? h - y0 : rps;
			int64_t want = line * (int64_t)rows;
			if (s >= strips || vt_read_encoded_strip(tif, s, buf, want) != want) {
				snprintf(msg, VT_MSG, "libtiff failed on strip %u of %u", s, strips);
				ret = -1;
				goto done;
			}
			for (uint32_t y = 0; y < rows; y++) {
				vt_row(kind, buf + (size_t)y * line, out + (size_t)(y0 + y) * w * 3, w, spp, pal);
			}
		}
	}
done:
	free(buf);
	free(pal);
	vt_close(tif);
	return ret;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func loadLibtiff() error {
	var msg [C.VT_MSG]C.char
	if C.vt_load(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func libtiffName() string {
	var v [C.VT_MSG]C.char
	C.vt_version(&v[0])
	return fmt.Sprintf("%s (%s through cgo)", C.GoString(&v[0]), C.GoString(C.vt_soname()))
}

// decodeTIFFLib decodes a TIFF of h x w pixels (its header's size, checked against
// MaxImagePixels by the caller) to RGB with libtiff. ok is false when libtiff is not loaded, fails
// on the file, or the file is of a layout left to Go's decoder, which the caller then gives it to:
// a bad file is refused with Go's message, as on a machine without libtiff.
func decodeTIFFLib(data []byte, h, w int) (img Image, ok bool) {
	if tiffLib() != nil || len(data) == 0 || h <= 0 || w <= 0 {
		return Image{}, false
	}
	// Go's decoder applies a predictor whatever the compression, libtiff (and PIL) only to LZW and
	// Deflate: decodeTIFFGo clears the tag of an uncompressed or PackBits file; a file where it
	// cannot (a tag of another type; a compression read otherwise) stays with Go's decoder.
	if d := readTIFFIFD(data); d.predictor != 1 && d.compression != 5 && d.compression != 8 && d.compression != 32946 && !tiffPredictorIgnored(d) {
		return Image{}, false
	}
	img = Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	var msg [C.VT_MSG]C.char
	if C.vt_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.uint32_t(w), C.uint32_t(h), &msg[0]) != 0 {
		return Image{}, false
	}
	return img, true
}
