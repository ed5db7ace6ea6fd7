package plot

import (
	"image"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Picture is an image drawn on a panel over its series, centred at (X, Y) in the data's
// coordinates, its longer side Panel.PictureSide points, framed in Border's colour (nil: no
// frame): the thumbnails of a map's points, say. The axes span the centres, not the images.
type Picture struct {
	X, Y   float64
	Image  image.Image
	Border color.Color
}

// DefaultPictureSide is the longer side, in points, of a panel's pictures where
// Panel.PictureSide is 0.
const DefaultPictureSide = 18

// pictures draws a panel's Pictures.
type pictures struct {
	pics []Picture
	side vg.Length
}

// Plot implements gonum's plot.Plotter.
func (pc *pictures) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	frame := draw.LineStyle{Width: vg.Points(1.2)}
	for _, pic := range pc.pics {
		b := pic.Image.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 {
			continue
		}
		w, h := pc.side, pc.side
		if b.Dx() > b.Dy() {
			h = pc.side * vg.Length(b.Dy()) / vg.Length(b.Dx())
		} else {
			w = pc.side * vg.Length(b.Dx()) / vg.Length(b.Dy())
		}
		at := vg.Point{X: trX(pic.X), Y: trY(pic.Y)}
		r := vg.Rectangle{Min: vg.Point{X: at.X - w/2, Y: at.Y - h/2}, Max: vg.Point{X: at.X + w/2, Y: at.Y + h/2}}
		c.DrawImage(r, pic.Image)
		if pic.Border != nil {
			frame.Color = pic.Border
			c.StrokeLines(frame, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
		}
	}
}
