//go:build cgo

package datasets

// The libjpeg-turbo decoder. It builds wherever cgo does: the libjpeg header (Debian's
// libjpeg62-turbo-dev) is used when the C compiler finds it, and the library is opened at run
// time with dlopen, so a machine without either still builds and runs, with Go's decoder.

/*
#cgo LDFLAGS: -ldl
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <dlfcn.h>

#if defined(__has_include)
#if __has_include(<jpeglib.h>) && __has_include(<jerror.h>)
#include <jpeglib.h>
#include <jerror.h>
#define VJ_HEADERS 1
#endif
#endif

#define VJ_MSG 200

#ifdef VJ_HEADERS

static struct jpeg_error_mgr *(*vj_std_error)(struct jpeg_error_mgr *);
static void (*vj_create)(j_decompress_ptr, int, size_t);
static void (*vj_mem_src)(j_decompress_ptr, const unsigned char *, unsigned long);
static int (*vj_read_header)(j_decompress_ptr, boolean);
static void (*vj_calc_output_dimensions)(j_decompress_ptr);
static boolean (*vj_start)(j_decompress_ptr);
static JDIMENSION (*vj_read_scanlines)(j_decompress_ptr, JSAMPARRAY, JDIMENSION);
static boolean (*vj_finish)(j_decompress_ptr);
static void (*vj_destroy)(j_decompress_ptr);

static const char *vj_soname(void) {
#if JPEG_LIB_VERSION >= 90
	return "libjpeg.so.9";
#elif JPEG_LIB_VERSION >= 80
	return "libjpeg.so.8";
#elif JPEG_LIB_VERSION >= 70
	return "libjpeg.so.7";
#else
	return "libjpeg.so.62";
#endif
}

static int vj_turbo_version(void) {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
	return LIBJPEG_TURBO_VERSION_NUMBER;
#else
	return 0;
#endif
}

// vj_load opens the library and finds its functions; it returns 0, or -1 with a message in msg.
static int vj_load(char *msg) {
	void *h = dlopen(vj_soname(), RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(msg, VJ_MSG, "dlopen %s: %s", vj_soname(), dlerror());
		return -1;
	}
#define VJ_SYM(var, name) \
	*(void **)(&var) = dlsym(h, name); \
	if (!var) { snprintf(msg, VJ_MSG, "%s has no %s", vj_soname(), name); return -1; }
	VJ_SYM(vj_std_error, "jpeg_std_error");
	VJ_SYM(vj_create, "jpeg_CreateDecompress");
	VJ_SYM(vj_mem_src, "jpeg_mem_src");
	VJ_SYM(vj_read_header, "jpeg_read_header");
	VJ_SYM(vj_calc_output_dimensions, "jpeg_calc_output_dimensions");
	VJ_SYM(vj_start, "jpeg_start_decompress");
	VJ_SYM(vj_read_scanlines, "jpeg_read_scanlines");
	VJ_SYM(vj_finish, "jpeg_finish_decompress");
	VJ_SYM(vj_destroy, "jpeg_destroy_decompress");
#undef VJ_SYM
	return 0;
}

struct vj_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int eof;
	char msg[JMSG_LENGTH_MAX];
};

static void vj_error_exit(j_common_ptr c) {
	struct vj_err *e = (struct vj_err *)c->err;
	(*c->err->format_message)(c, e->msg);
	longjmp(e->jump, 1);
}

// Warnings are silent, as in PIL, except a premature end of data: a truncated file, which PIL
// refuses too ("image file is truncated").
static void vj_emit(j_common_ptr c, int level) {
	struct vj_err *e = (struct vj_err *)c->err;
	if (level < 0) {
		if (c->err->msg_code == JWRN_JPEG_EOF && !e->eof) {
			e->eof = 1;
			(*c->err->format_message)(c, e->msg);
		}
		c->err->num_warnings++;
	}
}

// vj_decode decodes a JPEG to RGB at scale 1/denom. With out == NULL it only reads the header and
// reports the output size in *w, *h, the image's own in *iw, *ih, and in *arith whether it is
// arithmetic-coded. It returns 0 on success, 1 for a CMYK or YCCK image (left to the caller's
// other decoder), -1 with a message in msg on an error.
static int vj_decode(const unsigned char *data, size_t n, int denom, unsigned char *out, size_t outlen,
		int *w, int *h, int *iw, int *ih, int *arith, char *msg) {
	struct jpeg_decompress_struct cinfo;
	struct vj_err err;
	memset(&err, 0, sizeof(err));
	cinfo.err = vj_std_error(&err.pub);
	err.pub.error_exit = vj_error_exit;
	err.pub.emit_message = vj_emit;
	if (setjmp(err.jump)) {
		vj_destroy(&cinfo);
		snprintf(msg, VJ_MSG, "%s", err.msg);
		return -1;
	}
	vj_create(&cinfo, JPEG_LIB_VERSION, sizeof(cinfo));
	vj_mem_src(&cinfo, data, (unsigned long)n);
	vj_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		vj_destroy(&cinfo);
		return 1;
	}
	cinfo.out_color_space = JCS_RGB;
	cinfo.scale_num = 1;
	cinfo.scale_denom = denom;
	cinfo.dct_method = JDCT_ISLOW;
	if (out == NULL) {
		vj_calc_output_dimensions(&cinfo);
		*w = cinfo.output_width;
		*h = cinfo.output_height;
		*iw = cinfo.image_width;
		*ih = cinfo.image_height;
		*arith = cinfo.arith_code;
		vj_destroy(&cinfo);
		return 0;
	}
	vj_start(&cinfo);
	if ((int)cinfo.output_width != *w || (int)cinfo.output_height != *h || cinfo.output_components != 3 ||
			(size_t)*w * (size_t)*h * 3 > outlen) {
		snprintf(msg, VJ_MSG, "decoder output %ux%ux%d, want %dx%dx3", cinfo.output_width, cinfo.output_height,
			cinfo.output_components, *w, *h);
		vj_destroy(&cinfo);
		return -1;
	}
	size_t stride = (size_t)*w * 3;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
		vj_read_scanlines(&cinfo, &row, 1);
		if (err.eof) {
			break;
		}
	}
	if (err.eof) {
		snprintf(msg, VJ_MSG, "%s", err.msg);
		vj_destroy(&cinfo);
		return -1;
	}
	vj_finish(&cinfo);
	vj_destroy(&cinfo);
	if (err.eof) {
		snprintf(msg, VJ_MSG, "%s", err.msg);
		return -1;
	}
	return 0;
}

#else

static int vj_load(char *msg) {
	snprintf(msg, VJ_MSG, "the libjpeg header jpeglib.h was not found when this program was built "
		"(install libjpeg62-turbo-dev or libjpeg-turbo8-dev and rebuild)");
	return -1;
}
static const char *vj_soname(void) { return ""; }
static int vj_turbo_version(void) { return 0; }
static int vj_decode(const unsigned char *data, size_t n, int denom, unsigned char *out, size_t outlen,
		int *w, int *h, int *iw, int *ih, int *arith, char *msg) {
	snprintf(msg, VJ_MSG, "libjpeg is not available");
	return -1;
}

#endif
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

func loadLibjpeg() error {
	var msg [C.VJ_MSG]C.char
	if C.vj_load(&msg[0]) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func libjpegName() string {
	v := int(C.vj_turbo_version())
	return fmt.Sprintf("libjpeg-turbo (%s through cgo, headers of %d.%d.%d)", C.GoString(C.vj_soname()), v/1000000, v/1000%1000, v%1000)
}

// jpegSizeLib reads the size of a JPEG from its header with libjpeg, so that ImageSize accepts
// what decodeJPEGLib decodes, and whether it is arithmetic-coded. ok is false as for
// decodeJPEGLib.
func jpegSizeLib(data []byte) (h, w int, arith, ok bool, err error) {
	if jpegLib() != nil || len(data) == 0 {
		return 0, 0, false, false, nil
	}
	var msg [C.VJ_MSG]C.char
	var ow, oh, iw, ih, ac C.int
	switch C.vj_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)), 1, nil, 0, &ow, &oh, &iw, &ih, &ac, &msg[0]) {
	case 1:
		return 0, 0, false, false, nil
	case -1:
		return 0, 0, false, true, errors.New(C.GoString(&msg[0]))
	}
	return int(ih), int(iw), ac != 0, true, nil
}

// decodeJPEGLib decodes with libjpeg at 1/reduce scale. ok is false when libjpeg is not loaded, or
// when the image is CMYK or YCCK, which the caller decodes with Go's decoder (libjpeg does not
// convert CMYK to RGB).
func decodeJPEGLib(data []byte, reduce int) (img Image, ok bool, err error) {
	if jpegLib() != nil {
		return Image{}, false, nil
	}
	if len(data) == 0 {
		return Image{}, true, errors.New("empty file")
	}
	if reduce != 2 && reduce != 4 && reduce != 8 {
		reduce = 1
	}
	var msg [C.VJ_MSG]C.char
	var w, h, iw, ih, arith C.int
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	switch C.vj_decode(src, C.size_t(len(data)), C.int(reduce), nil, 0, &w, &h, &iw, &ih, &arith, &msg[0]) {
	case 1:
		return Image{}, false, nil
	case -1:
		return Image{}, true, errors.New(C.GoString(&msg[0]))
	}
	if w <= 0 || h <= 0 {
		return Image{}, true, fmt.Errorf("image of %dx%d pixels", w, h)
	}
	if err := checkPixels(int(iw), int(ih)); err != nil { // from the header just read
		return Image{}, true, err
	}
	if err := jpegCutShort(len(data), int(iw), int(ih), arith != 0); err != nil {
		return Image{}, true, err
	}
	img = Image{Pix: make([]uint8, int(w)*int(h)*3), H: int(h), W: int(w), C: 3}
	dst := (*C.uchar)(unsafe.Pointer(&img.Pix[0]))
	if C.vj_decode(src, C.size_t(len(data)), C.int(reduce), dst, C.size_t(len(img.Pix)), &w, &h, &iw, &ih, &arith, &msg[0]) != 0 {
		return Image{}, true, errors.New(C.GoString(&msg[0]))
	}
	return img, true, nil
}
