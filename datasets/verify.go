package datasets

// Verify decodes every image of f (workers at a time; 0: one per CPU) and returns those that do
// not decode, by index, each error naming its file (ErrBadImage). A header check, as
// WriteShards makes, misses a file damaged past its header, which then fails in training; a
// full decode finds it. A file that cannot be read stops Verify with an error naming it
// (ErrDamaged). progress, when set, is called with the number of images checked so far, from
// one goroutine at a time.
func (f *Folder) Verify(workers int, progress func(done int)) (map[int]error, error) {
	bad := map[int]error{}
	// Visit's progress counts the images it hands over and those it skips alike.
	cfg := GatherConfig{Workers: workers, Progress: progress, SkipBadImages: true, Skipped: func(i int, err error) { bad[i] = err }}
	if err := Visit(f, identityOrder(len(f.files)), cfg, func(int, int32, Image) error { return nil }); err != nil {
		return nil, err
	}
	return bad, nil
}
