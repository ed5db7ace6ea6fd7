//go:build !cgo

package datasets

import "errors"

func loadLibpng() error {
	return errors.New("this program was built without cgo (CGO_ENABLED=0), which libpng needs")
}

func libpngName() string { return "" }

func decodePNGLib(data []byte, h, w int) (Image, bool) { return Image{}, false }
