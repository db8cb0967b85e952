package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// A percentile plot drawn with the standard library: x is the percentile
// on HdrHistogram's usual log scale (log10 of 1/(1-q): 0%, 90%, 99%,
// 99.9%, ...), y is the latency in milliseconds on a log scale.

type series struct {
	label  string
	col    color.RGBA
	dashed bool
	pts    [][2]float64 // percentile (0..100), ns
}

type panelPlot struct {
	title  string
	series []series
}

var (
	colA      = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colB      = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	colC      = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	colD      = color.RGBA{0xff, 0x7f, 0x0e, 0xff}
	colFloor  = color.RGBA{0x30, 0x30, 0x30, 0xff}
	colGrid   = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	colAxis   = color.RGBA{0x44, 0x44, 0x44, 0xff}
	colTarget = color.RGBA{0xcc, 0x88, 0x88, 0xff}
)

type canvas struct{ img *image.RGBA }

func (c canvas) dot(x, y int, col color.RGBA) {
	if image.Pt(x, y).In(c.img.Rect) {
		c.img.SetRGBA(x, y, col)
	}
}

// line draws a line of the given width (Bresenham with a square pen).
func (c canvas) line(x0, y0, x1, y1 float64, w int, col color.RGBA, dashed bool) {
	dx, dy := x1-x0, y1-y0
	n := int(math.Max(math.Abs(dx), math.Abs(dy))) + 1
	for i := 0; i <= n; i++ {
		if dashed && (i/6)%2 == 1 {
			continue
		}
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+dx*t)), int(math.Round(y0+dy*t))
		for a := -(w / 2); a <= (w-1)/2; a++ {
			for b := -(w / 2); b <= (w-1)/2; b++ {
				c.dot(x+a, y+b, col)
			}
		}
	}
}

func (c canvas) text(x, y int, s string, col color.RGBA) {
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(s string) int { return len(s) * 7 }

// plotPercentiles draws the panels in a grid of cols columns into path.
func plotPercentiles(path, title string, panels []panelPlot, cols int) error {
	const pw, ph = 620, 420 // one panel
	rows := (len(panels) + cols - 1) / cols
	W, H := pw*cols, ph*rows+40
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	c := canvas{img}
	c.text(W/2-textWidth(title)/2, 24, title, colAxis)

	// One y range for all panels, so that they can be compared by eye.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range panels {
		for _, s := range p.series {
			for _, pt := range s.pts {
				v := pt[1] / 1e6
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0.1, 10
	}
	ylo := math.Pow(10, math.Floor(math.Log10(math.Max(lo, 0.001))))
	yhi := math.Pow(10, math.Ceil(math.Log10(math.Max(hi, ylo*10))))
	const xmax = 5.0 // 99.999%

	for i, p := range panels {
		ox, oy := (i%cols)*pw, 40+(i/cols)*ph
		l, r, t, b := ox+70, ox+pw-45, oy+30, oy+ph-60
		X := func(q float64) float64 {
			if q >= 100 {
				return float64(r)
			}
			v := math.Log10(1 / (1 - q/100))
			return float64(l) + math.Min(v, xmax)/xmax*float64(r-l)
		}
		Y := func(ns float64) float64 {
			v := math.Max(ns/1e6, ylo)
			return float64(b) - (math.Log10(v)-math.Log10(ylo))/(math.Log10(yhi)-math.Log10(ylo))*float64(b-t)
		}
		c.text(l+(r-l)/2-textWidth(p.title)/2, t-10, p.title, colAxis)
		// Grid and axis labels.
		for k, lab := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
			x := float64(l) + float64(k)/xmax*float64(r-l)
			c.line(x, float64(t), x, float64(b), 1, colGrid, false)
			c.text(int(x)-textWidth(lab)/2, b+16, lab, colAxis)
		}
		for e := math.Log10(ylo); e <= math.Log10(yhi)+1e-9; e++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, e)
				if v > yhi*1.0001 {
					break
				}
				y := Y(v * 1e6)
				c.line(float64(l), y, float64(r), y, 1, colGrid, false)
				lab := trimFloat(v)
				c.text(l-6-textWidth(lab), int(y)+4, lab, colAxis)
			}
		}
		if y := Y(5e6); 5 > ylo && 5 < yhi {
			c.line(float64(l), y, float64(r), y, 1, colTarget, true)
			c.text(r-textWidth("5 ms target")-4, int(y)-4, "5 ms target", colTarget)
		}
		c.line(float64(l), float64(t), float64(l), float64(b), 1, colAxis, false)
		c.line(float64(l), float64(b), float64(r), float64(b), 1, colAxis, false)
		c.text(l+(r-l)/2-textWidth("percentile")/2, b+34, "percentile", colAxis)
		c.text(ox+8, t-10, "ms", colAxis)
		// Curves.
		for _, s := range p.series {
			for j := 1; j < len(s.pts); j++ {
				c.line(X(s.pts[j-1][0]), Y(s.pts[j-1][1]), X(s.pts[j][0]), Y(s.pts[j][1]), 2, s.col, s.dashed)
			}
		}
		// Legend.
		ly := t + 8
		for _, s := range p.series {
			c.line(float64(l+10), float64(ly), float64(l+34), float64(ly), 2, s.col, s.dashed)
			c.text(l+40, ly+4, s.label, colAxis)
			ly += 16
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%g", v)
	return s
}
