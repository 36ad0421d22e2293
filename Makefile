# synth: see README.md. `make demo` and `make test` work on a fresh Debian machine with Swift.
SWIFT ?= swift
BIN := .build/release/synth
PREFIX ?= /usr/local
DESTDIR ?=
# Generated files that `make install` copies (never committed; .build is git-ignored).
GEN := .build/share

.PHONY: deps build demo test bench fuzz fixtures clean completions man install install-files uninstall

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product synth

demo: build
	@mkdir -p out
	$(BIN) vocode samples/arctic_a0009.wav -o out/demo.wav

test: deps
	bash scripts/test.sh

bench: build
	bash scripts/bench.sh

# libFuzzer targets (Fuzz/, with AddressSanitizer), FUZZ_SECONDS each (default 600), two at a time; see docs/fuzzing.md.
fuzz: deps
	bash scripts/fuzz.sh

# Shell completion scripts for bash, zsh and fish, from the binary itself (swift-argument-parser).
completions: build
	@mkdir -p $(GEN)/completions
	$(BIN) --generate-completion-script bash > $(GEN)/completions/synth.bash
	$(BIN) --generate-completion-script zsh > $(GEN)/completions/_synth
	$(BIN) --generate-completion-script fish > $(GEN)/completions/synth.fish
	@echo "completions in $(GEN)/completions (make install puts them where bash, zsh and fish look)"

# Man pages generated from --help by swift-argument-parser's generate-manual plugin: synth.1 and one per subcommand.
man: build
	$(SWIFT) package plugin generate-manual --multi-page --authors "the synth authors"
	@rm -rf $(GEN)/man && mkdir -p $(GEN)/man
	cp .build/plugins/GenerateManual/outputs/synth/*.1 $(GEN)/man/

# Installs the binary, the shipped voices (found by the binary at ../share/synth/voices), completions and man pages.
install: build completions man install-files

# The copying part of `install`, for an already built BIN and generated GEN (the tests use it with a debug binary).
install-files:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/synth/voices
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/synth
	for v in voices/*/; do \
		name=$$(basename $$v); rm -rf $(DESTDIR)$(PREFIX)/share/synth/voices/$$name; \
		install -d $(DESTDIR)$(PREFIX)/share/synth/voices/$$name; \
		install -m 644 $$v/config.json $$v/model.safetensors $(DESTDIR)$(PREFIX)/share/synth/voices/$$name/; \
		if [ -f $$v/generation_config.json ]; then \
			install -m 644 $$v/generation_config.json $(DESTDIR)$(PREFIX)/share/synth/voices/$$name/; fi; \
	done
	if [ -d $(GEN)/completions ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
			$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d; \
		install -m 644 $(GEN)/completions/synth.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/synth; \
		install -m 644 $(GEN)/completions/_synth $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_synth; \
		install -m 644 $(GEN)/completions/synth.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/synth.fish; \
	fi
	if [ -d $(GEN)/man ]; then \
		install -d $(DESTDIR)$(PREFIX)/share/man/man1 && install -m 644 $(GEN)/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/; \
	fi
	@echo "installed $(DESTDIR)$(PREFIX)/bin/synth; voices in $(DESTDIR)$(PREFIX)/share/synth/voices"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/synth $(DESTDIR)$(PREFIX)/share/bash-completion/completions/synth \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_synth $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/synth.fish \
		$(DESTDIR)$(PREFIX)/share/man/man1/synth.1 $(DESTDIR)$(PREFIX)/share/man/man1/synth.*.1
	rm -rf $(DESTDIR)$(PREFIX)/share/synth

# Regenerates the golden test fixtures from independent implementations (librosa, numpy, mido).
fixtures:
	python3 -m pip install -q -r scripts/requirements.txt
	for s in scripts/fixtures/*.py; do python3 "$$s" || exit 1; done

clean:
	rm -rf .build .build-fuzz out
