# synth: see README.md. `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift
BIN := .build/release/synth

.PHONY: deps build demo test bench fuzz fixtures clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product synth

demo: build
	@mkdir -p out
	$(BIN) vocode samples/arctic_a0009.wav -o out/demo.wav --speaker auto

test: deps
	bash scripts/test.sh

bench: build
	bash scripts/bench.sh

# libFuzzer targets (Fuzz/, with AddressSanitizer), FUZZ_SECONDS each (default 600), two at a time; see docs/fuzzing.md.
fuzz: deps
	bash scripts/fuzz.sh

# Regenerates the golden test fixtures from independent implementations (librosa, numpy, mido).
fixtures:
	python3 -m pip install -q -r scripts/requirements.txt
	for s in scripts/fixtures/*.py; do python3 "$$s" || exit 1; done

clean:
	rm -rf .build .build-fuzz out
