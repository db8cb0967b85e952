// Package filewatch calls a function when a file changes, however an
// editor saves it: in place, or by writing a new file and renaming it over
// the old one (vim, most editors), or by removing and creating it.
package filewatch

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher watches one file. Create it with Watch; Close stops it. Its
// methods are safe for concurrent use.
type Watcher struct {
	fw        *fsnotify.Watcher
	done      chan struct{}
	closeOnce sync.Once
}

// Watch calls onChange after path was written, created, renamed or removed,
// once its events have settled for debounce (an editor's save is several
// events). It watches path's directory, not the file itself: a rename over
// the file would end a watch on the old inode. onChange runs on the
// watcher's own goroutine, never twice at once; errors of the underlying
// watch go to onError, which may be nil.
func Watch(path string, debounce time.Duration, onChange func(), onError func(error)) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := fw.Add(filepath.Dir(abs)); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	w := &Watcher{fw: fw, done: make(chan struct{})}
	go w.loop(abs, debounce, onChange, onError)
	return w, nil
}

func (w *Watcher) loop(path string, debounce time.Duration, onChange func(), onError func(error)) {
	defer close(w.done)
	var fire <-chan time.Time
	var t *time.Timer
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				if t != nil {
					t.Stop()
				}
				return
			}
			if filepath.Clean(ev.Name) != path || ev.Op == fsnotify.Chmod {
				continue
			}
			if t == nil {
				t = time.NewTimer(debounce)
			} else {
				t.Reset(debounce)
			}
			fire = t.C
		case err, ok := <-w.fw.Errors:
			if !ok {
				continue
			}
			if onError != nil {
				onError(err)
			}
		case <-fire:
			fire = nil
			onChange()
		}
	}
}

// Close stops the watch and waits for a running onChange to return. It is
// idempotent.
func (w *Watcher) Close() error {
	var err error
	w.closeOnce.Do(func() {
		err = w.fw.Close()
		<-w.done
	})
	return err
}
