//go:build !cgo

package datasets

import "errors"

func loadLibjpeg() error {
	return errors.New("this program was built without cgo (CGO_ENABLED=0), which libjpeg-turbo needs")
}

func libjpegName() string { return "" }

func decodeJPEGLib(data []byte, reduce int) (Image, bool, error) { return Image{}, false, nil }

func jpegSizeLib(data []byte) (h, w int, arith, ok bool, err error) { return 0, 0, false, false, nil }
