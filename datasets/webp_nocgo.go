//go:build !cgo

package datasets

import "errors"

func loadLibwebp() error {
	return errors.New("this program was built without cgo (CGO_ENABLED=0), which libwebp needs")
}

func libwebpName() string { return "" }

func webpSizeLib(data []byte) (h, w int, ok bool) { return 0, 0, false }

func decodeWebPLib(data []byte) (Image, bool, error) { return Image{}, false, nil }

func webpAnimLib() error {
	return errors.New("an animated WebP, whose first frame (which PIL reads) is decoded with libwebp and libwebpdemux only, through cgo, and this program was built without cgo (CGO_ENABLED=0); convert that frame to PNG")
}

func decodeWebPAnimLib(data []byte, h, w int) (Image, error) { return Image{}, webpAnimLib() }
