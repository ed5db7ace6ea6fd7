//go:build !cgo

package datasets

import "errors"

func loadLibwebp() error {
	return errors.New("this program was built without cgo (CGO_ENABLED=0), which libwebp needs")
}

func libwebpName() string { return "" }

func webpSizeLib(data []byte) (h, w int, ok bool) { return 0, 0, false }

func decodeWebPLib(data []byte) (Image, bool, error) { return Image{}, false, nil }
