package datasets

import (
	"errors"
	"runtime"
	"sync"
)

// Verify decodes every image of f (workers at a time; 0: one per CPU) and returns those that do
// not decode, by index, each error naming its file (ErrBadImage). A header check, as
// WriteShards makes, misses a file damaged past its header, which then fails in training; a
// full decode finds it. A file that cannot be read stops Verify with an error naming it
// (ErrDamaged). progress, when set, is called with the number of images checked so far, from
// one goroutine at a time.
func (f *Folder) Verify(workers int, progress func(done int)) (map[int]error, error) {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	n := len(f.files)
	var (
		mu      sync.Mutex
		bad     = map[int]error{}
		readErr error
		readAt  = n // the index of readErr: the first file that cannot be read is reported
		done    int
		next    = make(chan int)
		wg      sync.WaitGroup
	)
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := f.Decode(i)
				mu.Lock()
				switch {
				case errors.Is(err, ErrBadImage):
					bad[i] = err
				case err != nil && i < readAt:
					readErr, readAt = err, i
				}
				done++
				if progress != nil {
					progress(done)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := readErr != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	return bad, nil
}
