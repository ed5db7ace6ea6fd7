//go:build !cgo

package datasets

import "errors"

func loadLibheif() error {
	return errors.New("this program was built without cgo (CGO_ENABLED=0), which libheif needs")
}

func libheifName() string { return "" }

func heifSizeLib(data []byte) (h, w int, err error) { return 0, 0, heifLib() }

func decodeHEIFLib(data []byte, h, w int) (Image, error) { return Image{}, heifLib() }

func encodeHEIF(img Image, avif bool, quality int) ([]byte, error) {
	return nil, heifLib()
}

func encodeHEIF10(rgb []uint16, w, h int, avif bool, quality int) ([]byte, error) {
	return nil, heifLib()
}
