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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_MSG 300

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
static int (*vt_set_field)(void *, uint32_t, ...);
static int (*vt_is_tiled)(void *);
static uint32_t (*vt_number_of_strips)(void *);
static uint32_t (*vt_number_of_tiles)(void *);
static int64_t (*vt_read_encoded_strip)(void *, uint32_t, void *, int64_t);
static int64_t (*vt_read_encoded_tile)(void *, uint32_t, void *, int64_t);
static int64_t (*vt_tile_size)(void *);
static int64_t (*vt_tile_row_size)(void *);
static int64_t (*vt_scanline_size)(void *);
static void *(*vt_set_error_handler)(void *);
static void *(*vt_set_warning_handler)(void *);
static const char *(*vt_get_version)(void);

static const char *vt_name = "";

// vt_err holds the errors libtiff reported on this thread since vt_open, for messages: the first
// ones, separated by "; ", as many as fit.
static __thread char vt_err[VT_MSG];

static void vt_on_error(const char *module, const char *fmt, va_list ap) {
	size_t n = strlen(vt_err);
	if (n > 0 && n + 2 < VT_MSG) {
		strcpy(vt_err + n, "; ");
		n += 2;
	}
	if (n + 1 < VT_MSG) {
		vsnprintf(vt_err + n, VT_MSG - n, fmt, ap);
	}
}

// vt_load opens the library, finds its functions, silences its warnings and keeps its errors for
// our messages (failures are read from return values); it returns 0, or -1 with a message in msg.
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
	VT_SYM(vt_set_field, "TIFFSetField");
	VT_SYM(vt_is_tiled, "TIFFIsTiled");
	VT_SYM(vt_number_of_strips, "TIFFNumberOfStrips");
	VT_SYM(vt_number_of_tiles, "TIFFNumberOfTiles");
	VT_SYM(vt_read_encoded_strip, "TIFFReadEncodedStrip");
	VT_SYM(vt_read_encoded_tile, "TIFFReadEncodedTile");
	VT_SYM(vt_tile_size, "TIFFTileSize");
	VT_SYM(vt_tile_row_size, "TIFFTileRowSize");
	VT_SYM(vt_scanline_size, "TIFFScanlineSize");
	VT_SYM(vt_set_error_handler, "TIFFSetErrorHandler");
	VT_SYM(vt_set_warning_handler, "TIFFSetWarningHandler");
	VT_SYM(vt_get_version, "TIFFGetVersion");
#undef VT_SYM
	vt_set_error_handler((void *)vt_on_error);
	vt_set_warning_handler((void *)vt_on_error);
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

// The layouts converted here, each as PIL's convert("RGB") converts it. Gray, RGB and CMYK may
// carry one more sample (ExtraSamples 0 or 2, unassociated alpha), which is dropped.
enum {
	VT_GRAY1,     // bilevel, BlackIsZero: 1 is white
	VT_GRAY1_INV, // bilevel, WhiteIsZero: 0 is white
	VT_GRAY8,
	VT_GRAY8_INV, // WhiteIsZero: inverted
	VT_GRAY16,    // the high byte
	VT_GRAYN,     // 2 or 4 bits, scaled to 0..255 (times 85 or 17)
	VT_GRAYN_INV, // WhiteIsZero
	VT_PAL8,      // the colormap's high bytes
	VT_PALN,      // 1, 2 or 4 bits an index
	VT_RGB8,
	VT_RGBA8_PRE, // premultiplied alpha (ExtraSamples 1) divided out: v*255/a rounded down, 0 where a is 0
	VT_RGB16,     // the high bytes
	VT_RGBA16_PRE,
	VT_CMYK8,     // PIL's formula: (255-K)-(C·(255-K))/255, rounded as PIL's MULDIV255
	VT_CMYK16,    // the high bytes, then as VT_CMYK8
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

static uint8_t vt_cmyk(int v, int nk) {
	int t = v * nk + 128;
	return (uint8_t)(nk - ((t + (t >> 8)) >> 8));
}

// vt_bits returns the x-th value of bps bits (1, 2 or 4) of a row, from the most significant bits.
static int vt_bits(const uint8_t *src, uint32_t x, int bps) {
	uint32_t bit = x * bps;
	return (src[bit >> 3] >> (8 - bps - (bit & 7))) & ((1 << bps) - 1);
}

// vt_row converts n pixels of one row of samples (spp a pixel of bps bits, interleaved) to RGB.
static void vt_row(int kind, const uint8_t *src, uint8_t *dst, uint32_t n, int spp, int bps, uint8_t (*lut)[3]) {
	const uint16_t *s16 = (const uint16_t *)src; // host order: libtiff swaps the file's
	switch (kind) {
	case VT_GRAYN:
	case VT_GRAYN_INV: {
		int scale = 255 / ((1 << bps) - 1);
		for (uint32_t x = 0; x < n; x++) {
			uint8_t v = (uint8_t)(vt_bits(src, x, bps) * scale);
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = kind == VT_GRAYN ? v : 255 - v;
		}
		break;
	}
	case VT_PALN:
		for (uint32_t x = 0; x < n; x++) {
			memcpy(dst + 3 * x, lut[vt_bits(src, x, bps)], 3);
		}
		break;
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
	case VT_GRAY8_INV: {
		uint8_t inv = kind == VT_GRAY8_INV ? 255 : 0;
		for (uint32_t x = 0; x < n; x++) {
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = src[(size_t)x * spp] ^ inv;
		}
		break;
	}
	case VT_GRAY16:
		for (uint32_t x = 0; x < n; x++) {
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = s16[(size_t)x * spp] >> 8;
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
	case VT_CMYK8:
		for (uint32_t x = 0; x < n; x++) {
			const uint8_t *p = src + (size_t)x * spp;
			int nk = 255 - p[3];
			dst[3 * x] = vt_cmyk(p[0], nk), dst[3 * x + 1] = vt_cmyk(p[1], nk), dst[3 * x + 2] = vt_cmyk(p[2], nk);
		}
		break;
	case VT_CMYK16:
		for (uint32_t x = 0; x < n; x++) {
			const uint16_t *p = s16 + (size_t)x * spp;
			int nk = 255 - (p[3] >> 8);
			dst[3 * x] = vt_cmyk(p[0] >> 8, nk), dst[3 * x + 1] = vt_cmyk(p[1] >> 8, nk), dst[3 * x + 2] = vt_cmyk(p[2] >> 8, nk);
		}
		break;
	}
}

// vt_layout is how the samples of the open image lie: spp samples a pixel, of bps bits, in
// planes planes (1, or spp for PlanarConfiguration 2: a plane per sample).
typedef struct {
	int kind, spp, bps, planes;
} vt_layout;

// vt_kind fills in the layout of the open image and returns its kind, or -1 for one left to Go's
// decoder. Compressions: those Go's decoder reads too (none, LZW, Deflate, PackBits), with
// predictors none and horizontal, so that the files both decoders read give the same pixels; and
// JPEG (libjpeg, through libtiff: YCbCr converted to RGB by libjpeg, as PIL asks for it). The
// reversed bit order (FillOrder 2), CMYK, gray with alpha, gray and palettes of 2 and 4 bits and a
// plane per sample (8 or 16 bits) are read here, as by PIL; Go's decoder refuses them.
static int vt_kind(void *tif, vt_layout *l, uint8_t (*lut)[3]) {
	uint16_t bps = 0, spp = 0, photometric = 0, planar = 0, format = 0, nextra = 0, compression = 0, predictor = 1, fill = 0, inkset = 0;
	uint16_t *extra = NULL;
	if (!vt_get_field(tif, 262, &photometric)) { // Photometric: required
		return -1;
	}
	vt_get_field_defaulted(tif, 259, &compression);
	vt_get_field_defaulted(tif, 266, &fill);
	vt_get_field_defaulted(tif, 258, &bps);
	vt_get_field_defaulted(tif, 277, &spp);
	vt_get_field_defaulted(tif, 284, &planar);
	vt_get_field_defaulted(tif, 339, &format);
	vt_get_field_defaulted(tif, 338, &nextra, &extra);
	if (compression == 5 || compression == 8 || compression == 32946) {
		vt_get_field(tif, 317, &predictor); // a tag of these codecs only; absent: none
	} else if (compression == 7) { // JPEG: 8-bit samples, interleaved (PIL refuses a plane per sample)
		if (bps != 8 || (planar != 1 && spp > 1) || (photometric != 1 && photometric != 2 && photometric != 6)) {
			return -1;
		}
		if (photometric == 6) { // YCbCr: libjpeg converts to RGB, upsampling the chroma (JPEGCOLORMODE RGB)
			if (spp != 3 || !vt_set_field(tif, 65538, 1)) {
				return -1;
			}
			photometric = 2;
		}
	} else if (compression != 1 && compression != 32773) {
		return -1;
	}
	if ((predictor != 1 && predictor != 2) || (fill != 1 && fill != 2) || format != 1 || spp < 1) {
		return -1;
	}
	// A sample past the color's: unassociated alpha (2) or of no meaning (0), dropped; 1 is
	// premultiplied alpha (RGB only).
	int drop = nextra == 1 && extra != NULL && (extra[0] == 0 || extra[0] == 2);
	int pre = nextra == 1 && extra != NULL && extra[0] == 1;
	l->spp = spp;
	l->bps = bps;
	l->planes = planar == 2 ? spp : 1;
	if (l->planes > 1 && bps != 8 && bps != 16) {
		return -1;
	}
	switch (photometric) {
	case 0: // WhiteIsZero
	case 1: // BlackIsZero
		if (spp != 1 && !(spp == 2 && drop && bps != 1)) {
			return -1;
		}
		if (bps == 1) {
			return photometric == 1 ? VT_GRAY1 : VT_GRAY1_INV;
		}
		if (bps == 8) {
			return photometric == 1 ? VT_GRAY8 : VT_GRAY8_INV;
		}
		if ((bps == 2 || bps == 4) && spp == 1) {
			return photometric == 1 ? VT_GRAYN : VT_GRAYN_INV;
		}
		return bps == 16 && photometric == 1 ? VT_GRAY16 : -1;
	case 2: // RGB
		if (bps != 8 && bps != 16) {
			return -1;
		}
		if (spp == 3 || (spp == 4 && drop)) {
			return bps == 8 ? VT_RGB8 : VT_RGB16;
		}
		if (spp == 4 && pre) {
			return bps == 8 ? VT_RGBA8_PRE : VT_RGBA16_PRE;
		}
		return -1;
	case 3: { // palette: libtiff holds 2^bps colors
		uint16_t *r = NULL, *g = NULL, *b = NULL;
		if (spp != 1 || (bps != 1 && bps != 2 && bps != 4 && bps != 8) || !vt_get_field(tif, 320, &r, &g, &b) ||
			r == NULL || g == NULL || b == NULL) {
			return -1;
		}
		for (int i = 0; i < 1 << bps; i++) {
			lut[i][0] = r[i] >> 8, lut[i][1] = g[i] >> 8, lut[i][2] = b[i] >> 8;
		}
		return bps == 8 ? VT_PAL8 : VT_PALN;
	}
	case 5: // separated: CMYK (InkSet 1, the default) only
		vt_get_field_defaulted(tif, 332, &inkset);
		if (inkset != 1 || (bps != 8 && bps != 16) || !(spp == 4 || (spp == 5 && drop))) {
			return -1;
		}
		return bps == 8 ? VT_CMYK8 : VT_CMYK16;
	}
	return -1;
}

// vt_open opens the file in src with libtiff, its error messages going to vt_err.
static void *vt_open(vt_src *src) {
	vt_err[0] = 0;
	return vt_client_open("image", "r", src, vt_read, vt_write, vt_seek, vt_closeproc, vt_size, vt_map, vt_unmap);
}

// vt_probe reads the size of the first image of a TIFF file and whether vt_decode converts its
// layout: it returns 0 with the size in *w and *h, or 1.
static int vt_probe(const uint8_t *data, size_t n, uint32_t *w, uint32_t *h) {
	vt_src src = {data, n, 0};
	void *tif = vt_open(&src);
	if (tif == NULL) {
		return 1;
	}
	vt_layout l;
	uint8_t (*pal)[3] = malloc(256 * 3);
	int ret = pal == NULL || vt_kind(tif, &l, pal) < 0 || !vt_get_field(tif, 256, w) || !vt_get_field(tif, 257, h);
	free(pal);
	vt_close(tif);
	return ret;
}

// vt_extent reads where the blocks (strips or tiles) of the first image of a TIFF file lie: in
// info, their count, whether tiled, the first that ends past the file (-1: none) and its end, the
// sum of their sizes, Compression, SamplesPerPixel, BitsPerSample and Photometric. It returns 0,
// or 1 when libtiff does not open the file or the image has no block offsets and sizes.
static int vt_extent(const uint8_t *data, size_t n, int64_t *info) {
	vt_src src = {data, n, 0};
	void *tif = vt_open(&src);
	if (tif == NULL) {
		return 1;
	}
	int tiled = vt_is_tiled(tif);
	uint32_t count = tiled ? vt_number_of_tiles(tif) : vt_number_of_strips(tif);
	uint64_t *offsets = NULL, *sizes = NULL;
	uint16_t compression = 1, samples = 1, bits = 1, photometric = 0;
	int ret = 1;
	if (vt_get_field(tif, tiled ? 324 : 273, &offsets) && vt_get_field(tif, tiled ? 325 : 279, &sizes) && offsets && sizes) {
		info[0] = count, info[1] = tiled, info[2] = -1, info[3] = 0, info[4] = 0;
		for (uint32_t i = 0; i < count; i++) {
			if (offsets[i] + sizes[i] > n && info[2] < 0) {
				info[2] = i, info[3] = (int64_t)(offsets[i] + sizes[i]);
			}
			info[4] += (int64_t)sizes[i];
		}
		vt_get_field_defaulted(tif, 259, &compression);
		vt_get_field_defaulted(tif, 277, &samples);
		vt_get_field_defaulted(tif, 258, &bits);
		vt_get_field(tif, 262, &photometric);
		info[5] = compression, info[6] = samples, info[7] = bits, info[8] = photometric;
		ret = 0;
	}
	vt_close(tif);
	return ret;
}

// vt_decode decodes the first image of a TIFF file of w x h pixels (the caller read the size from
// its header) to RGB in out. It returns 0; 1 when the image is of a layout left to Go's decoder;
// -1 with a message in msg when libtiff fails on it. The image is read a block (a strip or a
// tile) at a time; with a plane per sample, the same block of every plane, interleaved a row at a
// time.
static int vt_decode(const uint8_t *data, size_t n, uint8_t *out, uint32_t w, uint32_t h, char *msg) {
	vt_src src = {data, n, 0};
	void *tif = vt_open(&src);
	if (tif == NULL) {
		snprintf(msg, VT_MSG, "libtiff did not open the file: %s", vt_err);
		return -1;
	}
	int ret = 0;
	uint8_t *buf = NULL, *row = NULL;
	uint8_t (*pal)[3] = malloc(256 * 3); // the palette's colors, for VT_PAL8
	uint32_t iw = 0, ih = 0;
	vt_get_field(tif, 256, &iw);
	vt_get_field(tif, 257, &ih);
	vt_layout l;
	int kind = pal == NULL ? -1 : vt_kind(tif, &l, pal);
	if (kind < 0) {
		ret = 1;
		goto done;
	}
	if (iw != w || ih != h) {
		snprintf(msg, VT_MSG, "libtiff read %ux%u pixels, want %ux%u", iw, ih, w, h);
		ret = -1;
		goto done;
	}
	int tiled = vt_is_tiled(tif);
	const char *what = tiled ? "tile" : "strip";
	uint32_t bw = w, bh = 0; // a block's width and height
	int64_t rowbytes, size;  // of a block's row and of a block, in one plane
	if (tiled) {
		vt_get_field(tif, 322, &bw);
		vt_get_field(tif, 323, &bh);
		rowbytes = vt_tile_row_size(tif);
		size = vt_tile_size(tif);
	} else {
		vt_get_field_defaulted(tif, 278, &bh);
		if (bh == 0 || bh > h) {
			bh = h;
		}
		rowbytes = vt_scanline_size(tif);
		size = rowbytes * bh;
	}
	// A block of more pixels than the image's four times (and 2^20) is refused before its memory
	// is asked for: tiles may reach past the image's edges, not by gigabytes.
	if (bw == 0 || bh == 0 || rowbytes <= 0 || size < rowbytes * (int64_t)bh ||
		(uint64_t)bw * bh > 4 * (uint64_t)w * h + (1 << 20) || (buf = malloc((size_t)size * l.planes)) == NULL) {
		ret = 1;
		goto done;
	}
	int bs = l.bps / 8; // bytes a sample, with a plane per sample
	if (l.planes > 1 && (row = malloc((size_t)bw * l.spp * bs)) == NULL) {
		ret = 1;
		goto done;
	}
	uint32_t across = (w + bw - 1) / bw, down = (h + bh - 1) / bh;
	uint64_t blocks = tiled ? vt_number_of_tiles(tif) : vt_number_of_strips(tif);
	if ((uint64_t)across * down * l.planes > blocks) {
		snprintf(msg, VT_MSG, "the file has %llu %ss, want %llu", (unsigned long long)blocks, what,
			(unsigned long long)across * down * l.planes);
		ret = -1;
		goto done;
	}
	for (uint32_t by = 0; by < down; by++) {
		uint32_t rows = h - by * bh < bh ? h - by * bh : bh;
		for (uint32_t bx = 0; bx < across; bx++) {
			uint32_t cols = w - bx * bw < bw ? w - bx * bw : bw;
			for (int p = 0; p < l.planes; p++) {
				uint32_t b = (uint32_t)(((uint64_t)p * down + by) * across + bx);
				int64_t want = tiled ? size : rowbytes * rows;
				int64_t got = tiled ? vt_read_encoded_tile(tif, b, buf + p * size, size)
				                    : vt_read_encoded_strip(tif, b, buf + p * size, want);
				if (tiled ? got < 0 : got != want) {
					snprintf(msg, VT_MSG, "libtiff failed on %s %u of %llu%s%s", what, b, (unsigned long long)blocks,
						vt_err[0] ? ": " : "", vt_err);
					ret = -1;
					goto done;
				}
			}
			for (uint32_t y = 0; y < rows; y++) {
				const uint8_t *src = buf + (size_t)y * rowbytes;
				if (l.planes > 1) {
					for (uint32_t x = 0; x < cols; x++) {
						for (int p = 0; p < l.planes; p++) {
							memcpy(row + ((size_t)x * l.spp + p) * bs, src + p * size + (size_t)x * bs, bs);
						}
					}
					src = row;
				}
				vt_row(kind, src, out + ((size_t)(by * bh + y) * w + (size_t)bx * bw) * 3, cols, l.spp, l.bps, pal);
			}
		}
	}
done:
	free(buf);
	free(row);
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

// tiffSizeLib reads the size of the first image of a TIFF file with libtiff; ok is false when
// libtiff is not loaded, does not open the file, or does not convert its layout (vt_kind).
func tiffSizeLib(data []byte) (h, w int, ok bool) {
	if tiffLib() != nil || len(data) == 0 {
		return 0, 0, false
	}
	var cw, ch C.uint32_t
	if C.vt_probe((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &cw, &ch) != 0 {
		return 0, 0, false
	}
	return int(ch), int(cw), true
}

// bigTIFFCutShort is tiffCutShort for a BigTIFF, whose directory libtiff reads: an error when
// its blocks end past the file or hold fewer bytes than its pixels take at the least, so that the
// pixels are not allocated for a file that cannot hold them.
func bigTIFFCutShort(data []byte, width, height int) error {
	var info [9]C.int64_t
	if tiffLib() != nil || len(data) == 0 || C.vt_extent((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &info[0]) != 0 {
		return nil // libtiff says what is wrong when it decodes
	}
	block := "strip"
	if info[1] != 0 {
		block = "tile"
	}
	if info[2] >= 0 {
		return fmt.Errorf("BigTIFF file cut short: its %s %d ends at byte %d, past the file's %d", block, info[2], info[3], len(data))
	}
	return tiffTooSmall(block, int64(info[4]), int(info[5]), int(info[8]), int64(info[6]), int64(info[7]), width, height)
}

// decodeTIFFLib decodes a TIFF of directory d (readTIFFIFD) and h x w pixels (its header's size,
// checked against MaxImagePixels by the caller) to RGB with libtiff. ok is false when libtiff is
// not loaded, fails on the file (err says how), or the file is of a layout left to Go's decoder,
// which the caller then gives it to: a bad file that Go's decoder reads too is refused with Go's
// message, as on a machine without libtiff.
func decodeTIFFLib(data []byte, d tiffIFD, h, w int) (img Image, ok bool, err error) {
	if tiffLib() != nil || len(data) == 0 || h <= 0 || w <= 0 {
		return Image{}, false, nil
	}
	// Go's decoder applies a predictor whatever the compression, libtiff (and PIL) only to LZW and
	// Deflate: decodeTIFFGo clears the tag of an uncompressed or PackBits file; a file where it
	// cannot (a tag of another type; a compression read otherwise) stays with Go's decoder. (Go's
	// decoder does not read JPEG.)
	if d.predictor != 1 && d.compression != 5 && d.compression != 8 && d.compression != 32946 &&
		d.compression != 7 && !tiffPredictorIgnored(d) {
		return Image{}, false, nil
	}
	img = Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	var msg [C.VT_MSG]C.char
	switch C.vt_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)),
		(*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.uint32_t(w), C.uint32_t(h), &msg[0]) {
	case 0:
		return img, true, nil
	case 1:
		return Image{}, false, nil
	}
	return Image{}, false, errors.New(C.GoString(&msg[0]))
}
