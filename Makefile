# Build, install and package oci-signature-hook.
#
#   make                  release build (cargo build --release): target/release/oci-signature-hook
#   make install          install under $(DESTDIR)$(PREFIX) (default PREFIX /usr); builds only if
#                         the binary does not exist yet, so it can run as root after a user's build
#   make uninstall        remove what install put in place
#   make deb              Debian package in target/packages/ (packaging/build-deb.sh)
#   make rpm              RPM package in target/packages/ (packaging/build-rpm.sh)
#   make check            every check and test (tests/run.sh, as root)

PREFIX ?= /usr
DESTDIR ?=
CARGO ?= cargo
# e.g. CARGO_FLAGS=--features=sequoia for the in-process OpenPGP verifier
CARGO_FLAGS ?=

NAME := oci-signature-hook
BIN := target/release/$(NAME)
HOOK_JSON := hooks.d/$(NAME).json
MAN_PAGE := packaging/$(NAME).1

bindir := $(PREFIX)/bin
hookdir := $(PREFIX)/libexec/oci/hooks.d
hookjsondir := $(PREFIX)/share/containers/oci/hooks.d
man1dir := $(PREFIX)/share/man/man1

# The hook JSON in the source tree names the program at its /usr path.
json_path := /usr/libexec/oci/hooks.d/$(NAME)

.PHONY: all build install uninstall deb rpm check

all: build

build:
	$(CARGO) build --release $(CARGO_FLAGS)

$(BIN):
	$(CARGO) build --release $(CARGO_FLAGS)

install: $(BIN)
	install -d -m 0755 "$(DESTDIR)$(hookdir)" "$(DESTDIR)$(hookjsondir)" "$(DESTDIR)$(man1dir)" "$(DESTDIR)$(bindir)"
	install -m 0755 $(BIN) "$(DESTDIR)$(hookdir)/$(NAME)"
	sed 's|"$(json_path)"|"$(hookdir)/$(NAME)"|' $(HOOK_JSON) >"$(DESTDIR)$(hookjsondir)/$(NAME).json"
	chmod 0644 "$(DESTDIR)$(hookjsondir)/$(NAME).json"
	@grep -qF '"path": "$(hookdir)/$(NAME)"' "$(DESTDIR)$(hookjsondir)/$(NAME).json" || { \
		echo "$(HOOK_JSON): no \"path\": \"$(json_path)\" to rewrite" >&2; \
		rm -f "$(DESTDIR)$(hookjsondir)/$(NAME).json"; exit 1; }
	install -m 0644 $(MAN_PAGE) "$(DESTDIR)$(man1dir)/$(NAME).1"
	ln -sfn "$$(realpath -m --relative-to="$(bindir)" "$(hookdir)/$(NAME)")" "$(DESTDIR)$(bindir)/$(NAME)"

uninstall:
	rm -f "$(DESTDIR)$(hookdir)/$(NAME)" "$(DESTDIR)$(hookjsondir)/$(NAME).json" \
		"$(DESTDIR)$(man1dir)/$(NAME).1" "$(DESTDIR)$(man1dir)/$(NAME).1.gz" "$(DESTDIR)$(bindir)/$(NAME)"
	rmdir "$(DESTDIR)$(hookdir)" "$(DESTDIR)$(PREFIX)/libexec/oci" 2>/dev/null || true

deb:
	bash packaging/build-deb.sh

rpm:
	bash packaging/build-rpm.sh

check:
	bash tests/run.sh
