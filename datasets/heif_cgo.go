//go:build cgo

package datasets

// The libheif decoder, for HEIC (HEVC in HEIF: an iPhone's photos) and AVIF (AV1 in HEIF): the
// library that pillow-heif, and torchvision's decode_heic and decode_avif, decode them with
// (Debian's libheif1, with its HEVC and AV1 decoders built in), opened at run time with dlopen,
// so that a machine without it still builds and runs, refusing these images with a message that
// names the package. It needs no header at build time: the functions of libheif's stable C API it
// calls are declared here, with the structures whose fields it sets (their leading, versioned
// fields). libheif applies the file's rotation, mirroring and crop (irot, imir, clap) and converts
// to 8-bit RGB (from monochrome, from 10 or 12 bits), as pillow-heif does; alpha is dropped.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VH_MSG 300

typedef struct {
	int code, subcode;
	const char *message;
} vh_error;

// heif_decoding_options up to its version 2 field (libheif 1.7 on).
typedef struct {
	uint8_t version;
	uint8_t ignore_transformations;
	void *start_progress, *on_progress, *end_progress, *progress_user_data;
	uint8_t convert_hdr_to_8bit;
} vh_decoding_options;

static const char *(*vh_get_version)(void);
static vh_error (*vh_init)(void *);
static void *(*vh_context_alloc)(void);
static void (*vh_context_free)(void *);
static vh_error (*vh_read_from_memory)(void *, const void *, size_t, const void *);
static vh_error (*vh_primary_handle)(void *, void **);
static int (*vh_handle_width)(const void *);
static int (*vh_handle_height)(const void *);
static void (*vh_handle_release)(const void *);
static vh_decoding_options *(*vh_decoding_options_alloc)(void);
static void (*vh_decoding_options_free)(vh_decoding_options *);
static vh_error (*vh_decode_image)(const void *, void **, int, int, const vh_decoding_options *);
static int (*vh_image_width)(const void *, int);
static int (*vh_image_height)(const void *, int);
static const uint8_t *(*vh_plane_readonly)(const void *, int, int *);
static void (*vh_image_release)(const void *);
static int (*vh_have_decoder)(int);

static void *vh_lib;

// vh_load opens the library and finds its functions; it returns 0, or -1 with a message in msg.
static int vh_load(char *msg) {
	vh_lib = dlopen("libheif.so.1", RTLD_NOW | RTLD_LOCAL);
	if (vh_lib == NULL) {
		snprintf(msg, VH_MSG, "dlopen libheif.so.1: %s", dlerror());
		return -1;
	}
#define VH_SYM(var, name) \
	*(void **)(&var) = dlsym(vh_lib, name); \
	if (!var) { snprintf(msg, VH_MSG, "libheif.so.1 has no %s (libheif 1.13 or later is needed)", name); return -1; }
	VH_SYM(vh_get_version, "heif_get_version");
	VH_SYM(vh_init, "heif_init");
	VH_SYM(vh_context_alloc, "heif_context_alloc");
	VH_SYM(vh_context_free, "heif_context_free");
	VH_SYM(vh_read_from_memory, "heif_context_read_from_memory_without_copy");
	VH_SYM(vh_primary_handle, "heif_context_get_primary_image_handle");
	VH_SYM(vh_handle_width, "heif_image_handle_get_width");
	VH_SYM(vh_handle_height, "heif_image_handle_get_height");
	VH_SYM(vh_handle_release, "heif_image_handle_release");
	VH_SYM(vh_decoding_options_alloc, "heif_decoding_options_alloc");
	VH_SYM(vh_decoding_options_free, "heif_decoding_options_free");
	VH_SYM(vh_decode_image, "heif_decode_image");
	VH_SYM(vh_image_width, "heif_image_get_width");
	VH_SYM(vh_image_height, "heif_image_get_height");
	VH_SYM(vh_plane_readonly, "heif_image_get_plane_readonly");
	VH_SYM(vh_image_release, "heif_image_release");
	VH_SYM(vh_have_decoder, "heif_have_decoder_for_format");
#undef VH_SYM
	vh_error e = vh_init(NULL); // loads the codecs; reference counted, never undone
	if (e.code != 0) {
		snprintf(msg, VH_MSG, "heif_init: %s", e.message);
		return -1;
	}
	return 0;
}

static const char *vh_version(void) { return vh_get_version(); }
static int vh_decoder_for(int format) { return vh_have_decoder(format); }

// vh_fail copies a libheif error into msg (with its code and subcode, which tell a file cut
// short: 2/100) and returns -1.
static int vh_fail(vh_error e, char *msg) {
	snprintf(msg, VH_MSG, "%s (libheif error %d/%d)", e.message ? e.message : "", e.code, e.subcode);
	return -1;
}

// vh_open parses data and returns its primary image's handle in *handle, with its context in
// *ctx (both to be released), or -1 with a message.
static int vh_open(const uint8_t *data, size_t n, void **ctx, void **handle, char *msg) {
	*ctx = vh_context_alloc();
	*handle = NULL;
	if (*ctx == NULL) {
		snprintf(msg, VH_MSG, "heif_context_alloc failed");
		return -1;
	}
	vh_error e = vh_read_from_memory(*ctx, data, n, NULL);
	if (e.code == 0) {
		e = vh_primary_handle(*ctx, handle);
	}
	if (e.code != 0) {
		vh_fail(e, msg);
		vh_context_free(*ctx);
		*ctx = NULL;
		return -1;
	}
	return 0;
}

// vh_size reads the size of the primary image, as decoded (after its rotation and crop).
static int vh_size(const uint8_t *data, size_t n, int *w, int *h, char *msg) {
	void *ctx, *handle;
	if (vh_open(data, n, &ctx, &handle, msg) != 0) {
		return -1;
	}
	*w = vh_handle_width(handle);
	*h = vh_handle_height(handle);
	vh_handle_release(handle);
	vh_context_free(ctx);
	return 0;
}

// vh_decode decodes the primary image, of w x h pixels (vh_size), as 8-bit RGB into *out, which
// vh_copy copies and releases: the caller allocates its pixels once they are decoded.
static int vh_decode(const uint8_t *data, size_t n, int w, int h, void **out, char *msg) {
	void *ctx, *handle, *img = NULL;
	*out = NULL;
	if (vh_open(data, n, &ctx, &handle, msg) != 0) {
		return -1;
	}
	vh_decoding_options *o = vh_decoding_options_alloc();
	if (o != NULL && o->version >= 2) {
		o->convert_hdr_to_8bit = 1; // as pillow-heif asks (libheif 1.15 converts for 8-bit RGB anyway)
	}
	vh_error e = vh_decode_image(handle, &img, 1, 10, o); // heif_colorspace_RGB, heif_chroma_interleaved_RGB
	if (o != NULL) {
		vh_decoding_options_free(o);
	}
	int ret = 0;
	if (e.code != 0) {
		ret = vh_fail(e, msg);
	} else {
		int stride = 0;
		const uint8_t *p = vh_plane_readonly(img, 10, &stride); // heif_channel_interleaved
		int iw = vh_image_width(img, 10), ih = vh_image_height(img, 10);
		if (p == NULL || iw != w || ih != h || stride < 3 * w) {
			snprintf(msg, VH_MSG, "libheif decoded %dx%d pixels (row of %d bytes), the file says %dx%d", iw, ih, stride, w, h);
			ret = -1;
			vh_image_release(img);
		} else {
			*out = img; // the image holds its pixels: the context and handle can go
		}
	}
	vh_handle_release(handle);
	vh_context_free(ctx);
	return ret;
}

// vh_copy copies the w x h RGB pixels of img (vh_decode) into out and releases img.
static void vh_copy(void *img, uint8_t *out, int w, int h) {
	int stride = 0;
	const uint8_t *p = vh_plane_readonly(img, 10, &stride);
	for (int y = 0; y < h; y++) {
		memcpy(out + (size_t)y * 3 * w, p + (size_t)y * stride, (size_t)3 * w);
	}
	vh_image_release(img);
}

// The encoder, for the tests' images.
static vh_error (*vh_get_encoder)(void *, int, void **);
static void (*vh_encoder_release)(void *);
static vh_error (*vh_set_quality)(void *, int);
static vh_error (*vh_image_create)(int, int, int, int, void **);
static vh_error (*vh_add_plane)(void *, int, int, int, int);
static uint8_t *(*vh_plane)(void *, int, int *);
static vh_error (*vh_encode_image)(void *, const void *, void *, const void *, void **);
static vh_error (*vh_write_to_file)(void *, const char *);

// vh_encode encodes w x h pixels of channels (1: gray, 3: RGB, 4: RGBA) samples of depth bits (8;
// or, for RGB, 10: two bytes each, big-endian) to path in format (1: HEVC, 4: AV1) at quality.
static int vh_encode(const uint8_t *pix, int w, int h, int channels, int depth, int format, int quality, const char *path,
	char *msg) {
#define VH_SYM(var, name) \
	*(void **)(&var) = dlsym(vh_lib, name); \
	if (!var) { snprintf(msg, VH_MSG, "libheif.so.1 has no %s", name); return -1; }
	VH_SYM(vh_get_encoder, "heif_context_get_encoder_for_format");
	VH_SYM(vh_encoder_release, "heif_encoder_release");
	VH_SYM(vh_set_quality, "heif_encoder_set_lossy_quality");
	VH_SYM(vh_image_create, "heif_image_create");
	VH_SYM(vh_add_plane, "heif_image_add_plane");
	VH_SYM(vh_plane, "heif_image_get_plane");
	VH_SYM(vh_encode_image, "heif_context_encode_image");
	VH_SYM(vh_write_to_file, "heif_context_write_to_file");
#undef VH_SYM
	void *ctx = vh_context_alloc(), *enc = NULL, *img = NULL;
	vh_error e = vh_get_encoder(ctx, format, &enc);
	if (e.code == 0) {
		e = vh_set_quality(enc, quality);
	}
	int gray = channels == 1, channel = gray ? 0 : 10; // heif_channel_Y, heif_channel_interleaved
	// heif_chroma_monochrome, interleaved_RGB, interleaved_RGBA, interleaved_RRGGBB_BE
	int chroma = gray ? 0 : channels == 4 ? 11 : depth > 8 ? 12 : 10;
	size_t row = (size_t)channels * w * (depth > 8 ? 2 : 1);
	if (e.code == 0) {
		e = vh_image_create(w, h, gray ? 2 : 1, chroma, &img);
	}
	if (e.code == 0) {
		e = vh_add_plane(img, channel, w, h, depth);
	}
	if (e.code == 0) {
		int stride = 0;
		uint8_t *p = vh_plane(img, channel, &stride);
		for (int y = 0; y < h; y++) {
			memcpy(p + (size_t)y * stride, pix + (size_t)y * row, row);
		}
		e = vh_encode_image(ctx, img, enc, NULL, NULL);
	}
	if (e.code == 0) {
		e = vh_write_to_file(ctx, path);
	}
	int ret = e.code == 0 ? 0 : vh_fail(e, msg);
	if (img != NULL) {
		vh_image_release(img);
	}
	if (enc != NULL) {
		vh_encoder_release(enc);
	}
	vh_context_free(ctx);
	return ret;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

func loadLibheif() error {
	var msg [C.VH_MSG]C.char
	if C.vh_load(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func libheifName() string {
	has := func(format C.int) string {
		if C.vh_decoder_for(format) != 0 {
			return "yes"
		}
		return "no"
	}
	return fmt.Sprintf("libheif %s (libheif.so.1 through cgo; HEIC %s, AVIF %s)", C.GoString(C.vh_version()), has(1), has(4))
}

// heifMsg turns a C message buffer into an error, on one line (libheif's may hold line breaks).
func heifMsg(msg []C.char) error {
	return errors.New(strings.Join(strings.Fields(C.GoString(&msg[0])), " "))
}

// heifSizeLib reads the size of a HEIC or AVIF image's primary image, as decoded.
func heifSizeLib(data []byte) (h, w int, err error) {
	if err := heifLib(); err != nil {
		return 0, 0, err
	}
	var msg [C.VH_MSG]C.char
	var cw, ch C.int
	if C.vh_size((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), &cw, &ch, &msg[0]) != 0 {
		return 0, 0, heifMsg(msg[:])
	}
	return int(ch), int(cw), nil
}

// decodeHEIFLib decodes a HEIC or AVIF image of h x w pixels (heifSizeLib, checked against
// MaxImagePixels by the caller) to RGB. Its pixels are allocated once libheif has decoded them:
// a damaged file that declares many allocates nothing here.
func decodeHEIFLib(data []byte, h, w int) (Image, error) {
	if err := heifLib(); err != nil {
		return Image{}, err
	}
	var msg [C.VH_MSG]C.char
	var decoded unsafe.Pointer
	if C.vh_decode((*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data)), C.int(w), C.int(h), &decoded, &msg[0]) != 0 {
		return Image{}, heifMsg(msg[:])
	}
	img := Image{Pix: make([]uint8, w*h*3), H: h, W: w, C: 3}
	C.vh_copy(decoded, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(w), C.int(h))
	return img, nil
}

// encodeHEIF encodes img (gray, RGB or RGBA) as HEIC (avif false) or AVIF with libheif at quality
// (0 to 100): the tests' images. It returns the file's bytes.
func encodeHEIF(img Image, avif bool, quality int) ([]byte, error) {
	return encodeHEIFSamples(img.Pix, img.W, img.H, img.C, 8, avif, quality)
}

// encodeHEIF10 encodes RGB samples of 10 bits (0 to 1023, three a pixel) as encodeHEIF does.
func encodeHEIF10(rgb []uint16, w, h int, avif bool, quality int) ([]byte, error) {
	be := make([]byte, 2*len(rgb))
	for i, v := range rgb {
		be[2*i], be[2*i+1] = byte(v>>8), byte(v)
	}
	return encodeHEIFSamples(be, w, h, 3, 10, avif, quality)
}

// encodeHEIFSamples encodes pix, w x h pixels of channels samples of depth bits, as vh_encode.
func encodeHEIFSamples(pix []byte, w, h, channels, depth int, avif bool, quality int) ([]byte, error) {
	if err := heifLib(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vicreg-heif-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := C.CString(filepath.Join(dir, "image"))
	defer C.free(unsafe.Pointer(path))
	format := C.int(1)
	if avif {
		format = 4
	}
	var msg [C.VH_MSG]C.char
	if C.vh_encode((*C.uint8_t)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(channels), C.int(depth), format, C.int(quality),
		path, &msg[0]) != 0 {
		return nil, heifMsg(msg[:])
	}
	return os.ReadFile(filepath.Join(dir, "image"))
}
