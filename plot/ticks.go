package plot

import (
	"math"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"
)

// ticker places labelled ticks at round values: about target of them on a linear axis (never
// fewer than three), and at powers of ten on a log axis (with unlabelled minor ticks between,
// and a label at an end of the axis that falls on a tick, or with dataEnds at any end).
type ticker struct {
	log    bool
	target int
	// dataEnds: the axis ends at data values (no padding), so a log axis labels an end that
	// falls between ticks too, such as a largest noise scale of 0.25.
	dataEnds bool
}

// Ticks implements gonum's plot.Ticker.
func (t ticker) Ticks(lo, hi float64) []gplot.Tick {
	if t.log && lo > 0 {
		return logTicks(lo, hi, t.target, t.dataEnds)
	}
	return linearTicks(lo, hi, t.target)
}

// niceSteps are the mantissas of the tick spacings a linear axis may use.
var niceSteps = []float64{1, 2, 2.5, 5}

// linearTicks returns labelled ticks at multiples of a round step (1, 2, 2.5 or 5 times a power
// of ten) inside [lo, hi]: the largest step that gives at least target ticks, and at least three.
func linearTicks(lo, hi float64, target int) []gplot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	target = max(target, 3)
	// Candidate steps from large to small; take the first giving enough ticks.
	mag := math.Pow(10, math.Ceil(math.Log10(hi-lo)))
	for range 40 {
		for i := len(niceSteps) - 1; i >= 0; i-- {
			step := niceSteps[i] * mag / 10
			first, last := math.Ceil(lo/step-1e-9), math.Floor(hi/step+1e-9)
			if int(last-first)+1 >= target {
				return stepTicks(first, last, step, niceSteps[i] == 2.5)
			}
		}
		mag /= 10
	}
	return nil
}

// stepTicks labels the values k·step for k from first to last.
func stepTicks(first, last, step float64, quarter bool) []gplot.Tick {
	maxAbs := math.Max(math.Abs(first*step), math.Abs(last*step))
	var ticks []gplot.Tick
	for k := first; k <= last; k++ {
		v := k * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		label := formatTick(v, step, maxAbs, quarter)
		// The value the label names, not k·step with its rounding error (0.30000000000000004).
		if lv, err := strconv.ParseFloat(label, 64); err == nil {
			v = lv
		}
		ticks = append(ticks, gplot.Tick{Value: v, Label: label})
	}
	return ticks
}

// formatTick writes v with the digits that a spacing of step needs: fixed point for ordinary
// magnitudes, else as mantissa and exponent ("2.5e-5", "3e7").
func formatTick(v, step, maxAbs float64, quarter bool) string {
	extra := 0
	if quarter {
		extra = 1
	}
	stepExp := int(math.Floor(math.Log10(step) + 1e-9))
	if maxAbs >= 1e7 || step < 1e-4 {
		if v == 0 {
			return "0"
		}
		sig := int(math.Floor(math.Log10(math.Abs(v))+1e-9)) - stepExp + 1 + extra
		return cleanExponent(strconv.FormatFloat(v, 'e', max(sig-1, 0), 64))
	}
	return strconv.FormatFloat(v, 'f', max(0, -stepExp+extra), 64)
}

// cleanExponent shortens strconv's exponent form: "1e+07" to "1e7", "2.5e-05" to "2.5e-5".
func cleanExponent(s string) string {
	mant, exp, ok := strings.Cut(s, "e")
	if !ok {
		return s
	}
	sign := ""
	if exp[0] == '-' {
		sign = "-"
	}
	exp = strings.TrimLeft(exp[1:], "0")
	if exp == "" {
		return mant
	}
	return mant + "e" + sign + exp
}

// logTicks labels the powers of ten inside [lo, hi] (every n-th when there are more than
// target+2 of them), with unlabelled minor ticks at 2..9 times each power when few decades are
// shown. With fewer than three powers of ten inside, it labels 1, 2 and 5 times them, then 1 to
// 9 times them, and on a range narrower than that falls back to linear ticks. An end of the
// axis that falls on a tick is labelled as well, and with dataEnds any end (labelEnds).
func logTicks(lo, hi float64, target int, dataEnds bool) []gplot.Tick {
	if !(hi > lo) || lo <= 0 || math.IsInf(hi, 0) {
		return nil
	}
	kLo, kHi := int(math.Floor(math.Log10(lo)+1e-9)), int(math.Ceil(math.Log10(hi)-1e-9))
	in := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	// candidates are the values m·10^k inside the range, in increasing order.
	var candidates []logTick
	var decades []int
	for k := kLo; k <= kHi; k++ {
		for m := 1; m <= 9; m++ {
			if tk := (logTick{m: m, k: k}); in(tk.value()) {
				candidates = append(candidates, tk)
				if m == 1 {
					decades = append(decades, k)
				}
			}
		}
	}
	if len(decades) >= 3 {
		every := (len(decades) + target + 1) / (target + 2)
		every = max(every, 1)
		minor := len(decades) <= 6
		var ticks []logTick
		for _, tk := range candidates {
			if tk.m == 1 || minor {
				tk.label = tk.m == 1 && (tk.k-decades[0])%every == 0
				ticks = append(ticks, tk)
			}
		}
		return labelEnds(ticks, lo, hi, target, dataEnds)
	}
	for _, mantissas := range [][]int{{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		ticks := append([]logTick(nil), candidates...)
		labelled := 0
		for i := range ticks {
			for _, lm := range mantissas {
				if lm == ticks[i].m {
					ticks[i].label = true
					labelled++
				}
			}
		}
		if labelled >= 3 {
			return labelEnds(ticks, lo, hi, target, dataEnds)
		}
	}
	return linearTicks(lo, hi, target)
}

// logTick is a tick of a log axis at m·10^k, labelled or not; or, with m = 0, at the end of the
// axis end (a data value between the round ticks).
type logTick struct {
	m, k  int
	label bool
	end   float64
}

// value is m·10^k, correctly rounded (0.3, not 3·0.1 = 0.30000000000000004), or end.
func (t logTick) value() float64 {
	if t.m == 0 {
		return t.end
	}
	if t.k < 0 {
		return float64(t.m) / math.Pow10(-t.k)
	}
	return float64(t.m) * math.Pow10(t.k)
}

// labelEnds labels an end of the axis (hi, then lo) that falls on a tick, so that an axis
// ending at a data value, such as the largest noise level 0.4, names it; with dataEnds, an end
// between ticks (0.25) gets a tick of its own first. A labelled tick closer to that end than
// half a label slot (log10(hi/lo)/(2·target) decades) loses its label, so that the two do not
// collide; but a power of ten keeps its label against an end that is not one (the end then
// stays unlabelled). It returns the ticks as gonum's.
func labelEnds(ticks []logTick, lo, hi float64, target int, dataEnds bool) []gplot.Tick {
	slot := math.Log10(hi/lo) / float64(2*max(target, 1))
	dist := func(i int, v float64) float64 { return math.Abs(math.Log10(ticks[i].value() / v)) }
	for _, end := range []float64{hi, lo} {
		at := -1
		for i := range ticks {
			if dist(i, end) <= 1e-9 {
				at = i
			}
		}
		if at < 0 && dataEnds {
			if end == hi {
				ticks = append(ticks, logTick{end: end})
			} else {
				ticks = append([]logTick{{end: end}}, ticks...)
			}
			at = len(ticks) - 1
			if end == lo {
				at = 0
			}
		}
		if at < 0 || ticks[at].label {
			continue
		}
		near := -1
		for i := range ticks {
			if ticks[i].label && (near < 0 || dist(i, end) < dist(near, end)) {
				near = i
			}
		}
		if near >= 0 && dist(near, end) < slot {
			if ticks[near].m == 1 && ticks[at].m != 1 {
				continue
			}
			ticks[near].label = false
		}
		ticks[at].label = true
	}
	out := make([]gplot.Tick, 0, len(ticks))
	for _, tk := range ticks {
		switch {
		case tk.m == 0 && !tk.label:
			// an end of its own that gave way to a power of ten: no tick either
		case tk.m == 0:
			out = append(out, gplot.Tick{Value: tk.end, Label: formatEnd(tk.end)})
		case tk.label:
			out = append(out, gplot.Tick{Value: tk.value(), Label: formatPow(tk.m, tk.k)})
		default:
			out = append(out, gplot.Tick{Value: tk.value()})
		}
	}
	return out
}

// formatEnd writes an axis end to three significant digits: in fixed point for
// 10^-4 <= value < 10^6 ("0.25", "1230"), else as "2.5e-5".
func formatEnd(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	if r >= 1e-4 && r < 1e6 {
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return cleanExponent(strconv.FormatFloat(r, 'g', 3, 64))
}

// formatPow writes m·10^k: in fixed point for 10^-4 <= value < 10^6 ("0.001", "20000"), else as
// "1e-5", "2e6".
func formatPow(m, k int) string {
	if k >= -4 && k <= 5 {
		return strconv.FormatFloat(float64(m)*math.Pow(10, float64(k)), 'f', max(0, -k), 64)
	}
	return strconv.Itoa(m) + "e" + strconv.Itoa(k)
}
