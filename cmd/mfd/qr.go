package main

import (
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// terminalQR renders s as a QR code of half-block characters, two modules
// a character cell, with a quiet zone, so a phone can scan the panel URL
// off the terminal.
func terminalQR(s string) (string, error) {
	q, err := qrcode.New(s, qrcode.Low)
	if err != nil {
		return "", err
	}
	bm := q.Bitmap() // includes a 4-module quiet zone
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		for x := 0; x < len(bm[y]); x++ {
			top := bm[y][x]
			bottom := y+1 < len(bm) && bm[y+1][x]
			switch {
			case top && bottom:
				b.WriteRune(' ')
			case top:
				b.WriteRune('▄')
			case bottom:
				b.WriteRune('▀')
			default:
				b.WriteRune('█')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
