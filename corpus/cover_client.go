package corpus

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/internal/procgroup"
)

// This file is the outside of the coverage server: it builds the
// instrumented test binary from the source tree, runs it, streams requests
// to it, and survives inputs that hang it or kill it (a stack overflow, an
// out-of-memory), restarting it and reporting those inputs as failures.

// Build compiles the coverage server (this package's test binary with
// Go's fuzzing instrumentation) from the qgafuzz source tree at root into
// dir, and returns its path. The Go build cache makes rebuilding cheap.
// The go command works in dir too (GOTMPDIR): the caller removes dir, even
// after a build that ctx cut short.
func Build(ctx context.Context, root, dir string) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", ErrNoToolchain
	}
	bin := filepath.Join(dir, "qgafuzz-coverage.test")
	cmd := procgroup.GoBuild(ctx, root, dir, "test", "-c", "-fuzz=.", "-o", bin, "./corpus")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("corpus: building the coverage server (go test -c -fuzz=. ./corpus in %s): %v\n%s", root, err, out)
	}
	// The go command builds without instrumentation where it has none
	// (it instruments amd64, arm64 and loong64 only), and such a server
	// exits at once: every input would seem to kill it. A server with no
	// input to run tells at startup.
	probe := exec.CommandContext(ctx, bin, "-test.run=^$")
	probe.Env = append(os.Environ(), ServerEnv+"=1")
	if out, err := probe.CombinedOutput(); err != nil {
		if strings.Contains(string(out), noCounters) {
			return "", fmt.Errorf("%w (GOARCH %s)", ErrNoInstrumentation, goEnv(ctx, root, "GOARCH"))
		}
		return "", fmt.Errorf("corpus: the coverage server %s does not start: %v\n%s", bin, err, out)
	}
	return bin, nil
}

// goEnv returns the value of a go env variable, or "?".
func goEnv(ctx context.Context, root, name string) string {
	cmd := exec.CommandContext(ctx, "go", "env", name)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// Result is what running one input gave.
type Result struct {
	Features []uint32
	Size     int
	// Fail is the failure's signature when the input failed (a panic, a
	// violated property, or a crash or hang of the whole process).
	Fail   string
	Report string
	// Err is set when the input could not be run (unreadable, undecodable).
	Err      string
	Duration time.Duration

	packed []byte // the Features as EncodeFeatures packs them (measurePacked)
}

// Server is a running coverage server.
type Server struct {
	Bin string
	// Timeout bounds one input (10 s if zero); an input that takes longer
	// is reported as a hang and the server is restarted.
	Timeout time.Duration
	// Env is added to the server's environment.
	Env []string

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *tailBuffer
}

// Start starts the server process (it is started again as needed).
func (s *Server) start() error {
	cmd := exec.Command(s.Bin, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), ServerEnv+"=1"), s.Env...)
	// Ctrl-C on a terminal interrupts qgafuzz, which still needs the
	// server to triage what was found.
	cmd.SysProcAttr = procgroup.Attr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	s.stderr = &tailBuffer{max: 16 << 10}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("corpus: starting the coverage server: %w", err)
	}
	lines := make(chan []byte, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<30)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	s.cmd, s.stdin, s.lines = cmd, stdin, lines
	return nil
}

// Close stops the server.
func (s *Server) Close() {
	if s.cmd == nil {
		return
	}
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func (s *Server) kill() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Run runs one input (inline) through target.
func (s *Server) Run(target string, data []byte) (Result, error) {
	rs, err := s.batch(context.Background(), []request{{Target: target, Data: data}}, nil, false)
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// Measure runs every file of paths through target and returns their
// results in order. progress, if set, is called after each input.
func (s *Server) Measure(ctx context.Context, target string, paths []string, progress func(done int)) ([]Result, error) {
	reqs := make([]request, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		reqs[i] = request{Target: target, Path: abs}
	}
	return s.batch(ctx, reqs, progress, false)
}

// MeasureData is Measure for inputs in memory.
func (s *Server) MeasureData(ctx context.Context, target string, inputs [][]byte, progress func(done int)) ([]Result, error) {
	return s.measureData(ctx, target, inputs, progress, false)
}

// measurePacked is MeasureData leaving the features packed (see
// DecodeFeatures), in Result.packed instead of Result.Features.
func (s *Server) measurePacked(ctx context.Context, target string, inputs [][]byte, progress func(done int)) ([]Result, error) {
	return s.measureData(ctx, target, inputs, progress, true)
}

// measureData is MeasureData, leaving the features packed if packed is.
func (s *Server) measureData(ctx context.Context, target string, inputs [][]byte, progress func(done int), packed bool) ([]Result, error) {
	reqs := make([]request, len(inputs))
	for i, d := range inputs {
		reqs[i] = request{Target: target, Data: d}
	}
	return s.batch(ctx, reqs, progress, packed)
}

// batch pipelines the requests through the server, restarting it after an
// input that hangs or kills it. packed leaves the features of each result
// packed.
func (s *Server) batch(ctx context.Context, reqs []request, progress func(int), packed bool) ([]Result, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	out := make([]Result, 0, len(reqs))
	for len(out) < len(reqs) {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if s.cmd == nil {
			if err := s.start(); err != nil {
				return out, err
			}
		}
		rest := reqs[len(out):]
		var wg sync.WaitGroup
		wg.Add(1)
		go func(w io.Writer) {
			defer wg.Done()
			bw := bufio.NewWriter(w)
			enc := json.NewEncoder(bw)
			for i := range rest {
				if enc.Encode(&rest[i]) != nil {
					return
				}
				if i%32 == 31 || i == len(rest)-1 {
					if bw.Flush() != nil {
						return
					}
				}
			}
		}(s.stdin)
		broken := false
		for i := 0; i < len(rest) && !broken; i++ {
			timer := time.NewTimer(timeout)
			select {
			case line, ok := <-s.lines:
				timer.Stop()
				if !ok {
					s.cmd.Wait()
					out = append(out, processFailure(rest[i], "the process died", s.stderr.String()))
					s.cmd, broken = nil, true
					break
				}
				var resp response
				if err := json.Unmarshal(line, &resp); err != nil {
					s.kill()
					return out, fmt.Errorf("corpus: coverage server: bad response: %w", err)
				}
				r := Result{Size: resp.Size, Fail: resp.Fail, Report: resp.Report, Err: resp.Err, Duration: time.Duration(resp.Nanos)}
				var err error
				if packed {
					r.packed, err = resp.Features, checkFeatures(resp.Features)
				} else {
					r.Features, err = DecodeFeatures(resp.Features)
				}
				if err != nil {
					s.kill()
					return out, err
				}
				out = append(out, r)
			case <-timer.C:
				s.kill()
				out = append(out, processFailure(rest[i], fmt.Sprintf("hang: no result after %v", timeout), s.stderr.String()))
				broken = true
			case <-ctx.Done():
				timer.Stop()
				s.kill()
				wg.Wait()
				return out, ctx.Err()
			}
			if progress != nil {
				progress(len(out))
			}
		}
		if broken {
			s.stdin.Close()
		}
		wg.Wait()
	}
	return out, nil
}

// processFailure is the result of an input that hung or killed the server.
func processFailure(req request, what, stderr string) Result {
	first := ""
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime:") {
			first = strings.TrimSpace(l)
			break
		}
	}
	sig := req.Target + "/" + what
	if first != "" {
		sig = req.Target + "/" + first
	}
	if fr := fuzz.StackFrames([]byte(stderr), 3); first != "" && len(fr) > 0 {
		sig += " at " + strings.Join(fr, " < ")
	}
	return Result{Size: len(req.Data), Fail: sig, Report: fmt.Sprintf("%s\n%s\nprocess output (tail):\n%s", sig, what, stderr)}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// ErrNoToolchain is returned when the go command is missing.
var ErrNoToolchain = errors.New("corpus: the go command is needed to build the coverage server")

// ErrNoInstrumentation is returned when the go command builds the coverage
// server without fuzzing instrumentation: Go instruments amd64, arm64 and
// loong64 only, so coverage cannot be measured on 386 or arm, say.
var ErrNoInstrumentation = errors.New("corpus: the go command builds no fuzzing instrumentation here, so coverage cannot be measured")
