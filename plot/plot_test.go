package plot

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type svgDoc struct {
	Polylines []struct {
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
	Texts []string `xml:"text"`
}

func TestSVG(t *testing.T) {
	for _, tc := range []struct {
		name      string
		panel     Panel
		polylines int
		points    []int // points per polyline
		texts     []string
	}{
		{"two series", Panel{Title: "loss", XLabel: "step", YLabel: "nats", Series: []Series{
			{Name: "a", X: []float64{0, 1, 2}, Y: []float64{1, 2, 3}},
			{Name: "b<&>", X: []float64{0, 2}, Y: []float64{3, 1}},
		}}, 2, []int{3, 2}, []string{"loss", "step", "nats", "a", "b<&>", "3", "1", "0", "2"}},
		{"non-finite skipped", Panel{Title: "t", Series: []Series{
			{Name: "s", X: []float64{0, 1, 2}, Y: []float64{1, nan(), 3}},
		}}, 1, []int{2}, []string{"s"}},
		{"log x drops x <= 0", Panel{Title: "t", LogX: true, Series: []Series{
			{Name: "s", X: []float64{0, 0.01, 1}, Y: []float64{1, 2, 3}},
		}}, 1, []int{2}, []string{"0.01", "1"}},
		{"no data", Panel{Title: "empty", Series: []Series{{Name: "s"}}}, 0, nil, []string{"no data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			if err := SVG(&sb, tc.panel); err != nil {
				t.Fatal(err)
			}
			var doc svgDoc
			if err := xml.Unmarshal([]byte(sb.String()), &doc); err != nil {
				t.Fatalf("output is not valid XML: %v\n%s", err, sb.String())
			}
			if len(doc.Polylines) != tc.polylines {
				t.Fatalf("got %d polylines, want %d", len(doc.Polylines), tc.polylines)
			}
			for i, want := range tc.points {
				if got := len(strings.Fields(doc.Polylines[i].Points)); got != want {
					t.Errorf("polyline %d has %d points, want %d", i, got, want)
				}
			}
			for _, want := range tc.texts {
				found := false
				for _, txt := range doc.Texts {
					found = found || txt == want
				}
				if !found {
					t.Errorf("no text %q in %q", want, doc.Texts)
				}
			}
		})
	}
}

func TestWriteSVGPanels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.svg")
	panels := []Panel{{Title: "one"}, {Title: "two"}, {Title: "three"}}
	if err := WriteSVG(path, panels...); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "<rect "); got != 3 {
		t.Errorf("got %d panel frames, want 3", got)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := WriteSVG(filepath.Join(t.TempDir(), "missing", "p.svg")); err == nil || !strings.Contains(err.Error(), "writing plot") {
		t.Errorf("writing into a missing folder: got error %v", err)
	}
}

func nan() float64 { var z float64; return z / z }
