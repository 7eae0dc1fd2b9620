# kiln: bakes a Kubernetes cluster into bootable, immutable OS images.
# `make` installs what it needs and builds every image; `make test` runs the tests; `make help` lists the rest.

SHELL := /bin/sh
.DEFAULT_GOAL := all
TOP := $(abspath .)
BUILD ?= $(TOP)/build
OUT ?= $(TOP)/out
KILN_CACHE ?= /var/cache/kiln
ROLES := master node
export KILN_TOP := $(TOP)
export KILN_BUILD := $(BUILD)
export KILN_OUT := $(OUT)
export KILN_CACHE

S := $(TOP)/scripts
# The commit an image comes from: written into /etc/kiln/release, and SOURCE_DATE_EPOCH for every timestamp.
# The stamp changes only when they do, so a new commit rebuilds the images and nothing else does.
export KILN_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
export SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || echo 1735689600)
VERSION_STAMP := $(BUILD)/.version
$(shell mkdir -p $(BUILD); v="$(KILN_VERSION) $(SOURCE_DATE_EPOCH)"; \
	[ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$$v" ] || echo "$$v" > $(VERSION_STAMP))
DEPS_STAMP := $(BUILD)/.deps
INIT := $(BUILD)/init/init $(BUILD)/init/initctl $(BUILD)/init/kiln-pause $(BUILD)/init/kiln-halt $(BUILD)/init/kiln-adv
KERNEL := $(KILN_CACHE)/kernel/root/vmlinuz
BUSYBOX := $(KILN_CACHE)/busybox/busybox
# Overlay files, and for symlinks (which may point into the image only) the folders holding them.
overlay_deps = $(shell find $(1) -type f -o -type d 2>/dev/null)
COMMON_FILES := $(call overlay_deps,rootfs)
STAGE_SCRIPTS := $(S)/lib.sh $(S)/stage-rootfs.sh $(VERSION_STAMP)
# The official Kubernetes binaries the user provides (kiln cannot obtain them): scripts/components.sh.
# Their folder's listing (names, sizes, times) is a stamp, so adding or replacing one restages the roles.
KUBE_BIN ?= $(TOP)/components
export KUBE_BIN := $(abspath $(KUBE_BIN))
COMPONENTS_STAMP := $(BUILD)/.components
$(shell l="$(KUBE_BIN) $$(ls -lLn --time-style=+%s '$(KUBE_BIN)' 2>/dev/null | tail -n +2 | tr '\n' ' ')"; \
	[ "$$(cat $(COMPONENTS_STAMP) 2>/dev/null)" = "$$l" ] || echo "$$l" > $(COMPONENTS_STAMP))
# What components/ lacks, when the cluster asks for the release Debian's source package is (v1.20.2), is built
# from that source once (scripts/kube-build.sh, cached in $(KILN_CACHE)/kubernetes); this file names the folder.
KUBE_BUILT := $(BUILD)/.kube-built
export KUBE_BUILT

.PHONY: all help deps init kube images machines pxe serve enroll-list enroll-approve upgrade tools check addons audit drill fuzz pki-status cluster cluster-down cluster-status $(ROLES) test test-images test-unit test-system test-long bench clean distclean \
	run-master run-node run-master-disk run-node-disk repro

help: ## list the targets
	@echo "kiln: make targets"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{ printf "  %-16s %s\n", $$1, $$2 }'

all: images $(if $(wildcard tools/Makefile),machines) ## install dependencies (as root), build every role's images and every machine's identity

# Dependencies: Debian packages, the Debian kernel and a musl busybox, cached under $(KILN_CACHE).
deps: $(DEPS_STAMP) ## install packages, fetch the kernel, build busybox
$(DEPS_STAMP): $(S)/deps.sh $(S)/busybox.config
	@$(S)/deps.sh all
	@mkdir -p $(@D) && touch $@
$(KERNEL) $(BUSYBOX): $(DEPS_STAMP)

init: $(INIT) ## build the init (PID 1) and initctl
$(INIT): $(DEPS_STAMP) $(wildcard init/*.c init/*.h init/cmd/*.c init/Makefile)
	@$(MAKE) -s -C init O=$(BUILD)/init all

# The disk's first stage (finds the system slot and switches to it), shared by every role. The cluster file decides
# whether it may open a shell on the console when it cannot find the system (image.console_shell).
$(BUILD)/stage/boot.origins: $(INIT) $(BUSYBOX) $(KERNEL) $(shell find images/boot -type f) $(STAGE_SCRIPTS) $(OUT)/cluster/cluster.env
	@$(S)/stage-rootfs.sh boot
$(BUILD)/boot.cpio.gz: $(BUILD)/stage/boot.origins $(S)/mk-initramfs.sh
	@$(S)/mk-initramfs.sh $(BUILD)/stage/boot $@

$(KUBE_BUILT): $(S)/kube-build.sh $(COMPONENTS_STAMP) $(OUT)/cluster/cluster.env $(wildcard images/*/image.conf)
	@$(S)/kube-build.sh --for $@
	@touch $@
kube: $(KUBE_BUILT) ## build the Kubernetes components from Debian's source package (what components/ lacks)

define role_rules
$(1)_FILES := $$(call overlay_deps,images/$(1))
# Components are checked against the cluster's kubernetes_version: the cluster is rendered first.
$(BUILD)/stage/$(1).origins: $$(INIT) $$(BUSYBOX) $$(KERNEL) $$(COMMON_FILES) $$($(1)_FILES) $$(STAGE_SCRIPTS) \
		$(S)/components.sh $(COMPONENTS_STAMP) $(KUBE_BUILT) $(OUT)/cluster/cluster.env
	@$$(S)/stage-rootfs.sh $(1)
$(OUT)/$(1)/vmlinuz: $$(KERNEL)
	@mkdir -p $$(@D) && cp $$< $$@.tmp && mv $$@.tmp $$@
$(OUT)/$(1)/initramfs.cpio.gz: $(BUILD)/stage/$(1).origins $$(S)/mk-initramfs.sh
	@$$(S)/mk-initramfs.sh $(BUILD)/stage/$(1) $$@
$(OUT)/$(1)/disk.img: $(BUILD)/stage/$(1).origins $(BUILD)/boot.cpio.gz $$(S)/mk-disk.sh
	@$$(S)/mk-disk.sh --system $(OUT)/$(1)/system.img $(1) $$@
$(OUT)/$(1)/system.img: $(OUT)/$(1)/disk.img
# The upgrade image's signature, by the cluster's image key (kiln-upgrade refuses an image without a good one).
$(OUT)/$(1)/system.img.sig: $(OUT)/$(1)/system.img $(S)/sign-image.sh
	@$$(S)/sign-image.sh $$(SECRETS)/image-signing.key $$< && echo "sign-image.sh: $(1): $$@"
$(OUT)/$(1)/manifest.txt: $(BUILD)/stage/$(1).origins $$(S)/manifest.sh
	@$$(S)/manifest.sh $(BUILD)/stage/$(1) $$< $$@
$(OUT)/$(1)/components.txt: $(BUILD)/stage/$(1).origins
	@mkdir -p $$(@D) && cp $(BUILD)/stage/$(1)/etc/kiln/components $$@.tmp && mv $$@.tmp $$@
$(1): $(OUT)/$(1)/vmlinuz $(OUT)/$(1)/initramfs.cpio.gz $(OUT)/$(1)/disk.img $(OUT)/$(1)/system.img $(OUT)/$(1)/system.img.sig $(OUT)/$(1)/manifest.txt $(OUT)/$(1)/components.txt
endef
$(foreach r,$(ROLES),$(eval $(call role_rules,$(r))))

images: $(ROLES) ## build out/<role>/: vmlinuz, initramfs.cpio.gz, disk.img, manifest.txt, components.txt

# The cluster: one file in (CLUSTER), the PKI kept as state in SECRETS, every machine's identity out.
CLUSTER ?= configs/cluster.yaml
SECRETS ?= secrets/$(notdir $(basename $(CLUSTER)))
# Which cluster out/cluster is rendered for: the file's path and content and the PKI folder. Make compares times only,
# so without it a plain `make` after `make CLUSTER=other.yaml` would keep the other cluster's render.
CLUSTER_STAMP := $(BUILD)/.cluster
$(shell c="$(abspath $(CLUSTER)) $$(sha256sum < '$(CLUSTER)' 2>/dev/null | cut -c1-64) $(abspath $(SECRETS))"; \
	[ "$$(cat $(CLUSTER_STAMP) 2>/dev/null)" = "$$c" ] || echo "$$c" > $(CLUSTER_STAMP))
KILN_TOOL := $(BUILD)/tools/kiln
tools: $(KILN_TOOL) ## build the host tool `kiln` (check, render, pki status)
$(KILN_TOOL): $(DEPS_STAMP) $(wildcard tools/*/*.c tools/*/*.h tools/Makefile)
	@$(MAKE) -s -C tools O=$(BUILD)/tools all
check: $(KILN_TOOL) ## validate the cluster file
	@$(KILN_TOOL) check $(CLUSTER)
$(OUT)/cluster/cluster.env: $(KILN_TOOL) $(CLUSTER) $(CLUSTER_STAMP) rootfs/etc/passwd
	@$(KILN_TOOL) render $(CLUSTER) --out $(OUT)/cluster --pki $(SECRETS) --rootfs rootfs
	@touch $@
machines: $(OUT)/cluster/cluster.env $(ROLES) ## per machine: identity archive and disk image under out/machines/
	@$(S)/mk-machines.sh $(OUT)/cluster
# PXE_ENROLL=URL (required): where `make serve` runs, for the machines' enrollment; PXE_HTTP=URL: the tree will be
# served there over HTTP (lpxelinux); PXE_INTERFACE=IF: dnsmasq's interface.
pxe: $(OUT)/cluster/cluster.env $(ROLES) $(BUILD)/boot.cpio.gz ## the PXE boot tree out/pxe/: kernels, initramfs, public identities, pxelinux.cfg per MAC, dnsmasq.conf
	@$(S)/mk-pxe.sh $(if $(PXE_ENROLL),--enroll $(PXE_ENROLL)) $(if $(PXE_HTTP),--http $(PXE_HTTP)) $(if $(PXE_INTERFACE),--interface $(PXE_INTERFACE)) $(OUT)/cluster
# SERVE_ADDR=[IP:]PORT: where to listen (default every address, port 8080).
serve: images ## serve each role's upgrade image and PXE enrollment over HTTP (initctl upgrade http://HOST:8080/<role>/system.img)
	@$(S)/serve.sh --pki $(SECRETS) $(if $(SERVE_ADDR),--addr $(SERVE_ADDR))
enroll-list: $(OUT)/cluster/cluster.env ## PXE machines' enrollment requests and their state
	@CLUSTER=$(CLUSTER) SECRETS=$(SECRETS) $(S)/enroll.sh list
enroll-approve: $(OUT)/cluster/cluster.env ## approve MACHINE's enrollment (FINGERPRINT=what its console shows)
	@CLUSTER=$(CLUSTER) SECRETS=$(SECRETS) $(S)/enroll.sh approve $(MACHINE) $(if $(FINGERPRINT),--fingerprint "$(FINGERPRINT)")
# The QEMU cluster boots QEMU_OUT's machines: out/ (the images as built, console shell or not as the cluster file
# says) by default; QEMU_OUT=build/test/out (make test-images) boots the tests' copy with console shells, which
# `make upgrade` needs (it runs initctl upgrade on each console). CLUSTER_BOOT=disk: each machine boots a copy of its
# own disk image (what `make upgrade` needs too).
QEMU_OUT ?= $(OUT)
cluster: machines ## boot every machine in QEMU on a private network (netns); returns when all are ready
	@KILN_OUT=$(QEMU_OUT) $(S)/cluster.sh up $(QEMU_OUT)/cluster
# UPGRADE_DIR: a folder of <role>/system.img to upgrade to (default QEMU_OUT); UPGRADE_ROLES (default "master node").
upgrade: images ## rolling upgrade of the QEMU cluster (CLUSTER_BOOT=disk, QEMU_OUT=build/test/out): one machine at a time, masters first, etcd healthy between
	@KILN_OUT=$(QEMU_OUT) $(S)/upgrade.sh $(QEMU_OUT)/cluster
cluster-down: ## power the QEMU cluster off and delete its network namespace
	@KILN_OUT=$(QEMU_OUT) $(S)/cluster.sh down $(QEMU_OUT)/cluster
cluster-status: ## each QEMU machine's state and `initctl status`
	@KILN_OUT=$(QEMU_OUT) $(S)/cluster.sh status $(QEMU_OUT)/cluster
addons: $(OUT)/cluster/cluster.env ## apply the cluster DNS's RBAC, Service and Endpoints through the first master that answers (admin.kubeconfig)
	@$(S)/addons.sh $(OUT)/cluster
drill: test-images ## etcd disaster drill in a QEMU cluster (the tests' copy: it works on the consoles): 1000 keys, backup, all data destroyed, restore, every key back
	@KILN_OUT=$(KILN_TEST_OUT) $(S)/drill.sh $(KILN_TEST_OUT)/cluster
audit: machines ## every private key in every image and identity archive, checked against the PKI table
	@$(S)/audit.sh $(SECRETS) $(OUT)
pki-status: $(KILN_TOOL) ## list every certificate of the cluster with its expiry
	@$(KILN_TOOL) pki status --pki $(SECRETS)

run-master: master ## boot the master initramfs in QEMU on this console (Ctrl-A X leaves)
	@$(S)/run-qemu.sh $(OUT)/master/vmlinuz $(OUT)/master/initramfs.cpio.gz
run-node: node ## boot the node initramfs in QEMU on this console (Ctrl-A X leaves)
	@$(S)/run-qemu.sh $(OUT)/node/vmlinuz $(OUT)/node/initramfs.cpio.gz
run-master-disk: master ## boot the master disk image (syslinux, slot A) in QEMU
	@$(S)/run-qemu.sh --disk $(OUT)/master/disk.img
run-node-disk: node ## boot the node disk image in QEMU
	@$(S)/run-qemu.sh --disk $(OUT)/node/disk.img

# The tests' tree: the cluster built again with image.console_shell: true, into $(BUILD)/test/out with the same PKI
# (scripts/test-tree.sh). The QEMU tests and the benchmarks drive its machines through their console shells; the
# example's own images (out/) have none. Tests find it as KILN_TEST_OUT.
TEST_TREE := $(BUILD)/test
export KILN_TEST_OUT := $(TEST_TREE)/out
test-images: all ## the tests' copy of the cluster, with a console shell, in build/test/out
	@SECRETS=$(abspath $(SECRETS)) $(S)/test-tree.sh $(CLUSTER) $(TEST_TREE)

test: all test-unit test-system ## unit tests and system tests (builds, PID 1, QEMU boots, reproducibility)
test-unit: $(DEPS_STAMP) ## cmocka unit tests (ASan + UBSan)
	@$(MAKE) -s -C init O=$(BUILD)/init test
	@if [ -f tools/Makefile ]; then $(MAKE) -s -C tools O=$(BUILD)/tools test; fi
# The system tests in two lanes side by side (prove -j2, each lane in order; TCG keeps one core busy per virtual
# CPU, and no test before 60 runs more than one machine at a time for long), then the cluster tests (60, 61, 62: several
# machines, both cores) alone. A lane's failure does not stop the cluster tests; the exit status says either failed.
SYSTEM_TESTS := $(sort $(wildcard tests/system/*.t))
CLUSTER_TESTS := $(filter tests/system/6%,$(SYSTEM_TESTS))
# The lanes balanced by the times of a full run on the 2-core machine (lane A: 35 370 s, 43 38, 44 56, 45 396,
# 48 430, 50 139; the other about the same): 48 at the end of the other lane ran alone for 7 minutes.
LANE_A := tests/system/{35,43,44,45,48,50}-*.t
LANES := $(if $(filter 1,$(shell nproc 2>/dev/null)),1,2)
PROVE := prove -v --merge --timer
# A failure's summary is printed again at the very end (CI keeps the end of the output): which file, which checks.
run_system = rc=0; mkdir -p $(BUILD); \
	{ $(PROVE) -j$(LANES) --rules='seq=$(LANE_A)' --rules='seq=**' $(filter-out $(CLUSTER_TESTS),$(SYSTEM_TESTS)) 2>&1 || \
		echo "kiln: system lanes failed"; } | tee $(BUILD)/test-lanes.log; \
	! grep -q '^kiln: system lanes failed' $(BUILD)/test-lanes.log || rc=1; \
	$(PROVE) $(CLUSTER_TESTS) || rc=1; \
	if [ $$rc != 0 ] && grep -q '^kiln: system lanes failed' $(BUILD)/test-lanes.log; then \
		echo "== the system lanes failed: (all of it in $(BUILD)/test-lanes.log)"; \
		grep -E '^not ok|Dubious|^Bail out' $(BUILD)/test-lanes.log | cut -c1-300; \
		sed -n '/^Test Summary Report/,$$p' $(BUILD)/test-lanes.log; fi; exit $$rc
test-system: all test-images ## TAP system tests under prove
	@export SECRETS=$(SECRETS); $(run_system)
test-long: all test-images ## long soaks and fuzzing (every system test with KILN_LONG=1: the upgrades of the example cluster, its drill and m1 off with Kubernetes)
	@export KILN_LONG=1; $(run_system)
	@if [ -f tools/Makefile ]; then $(MAKE) -s -C tools O=$(BUILD)/tools fuzz; fi

fuzz: $(DEPS_STAMP) ## a long libFuzzer run of the cluster-file parser (FUZZ_SECONDS, default 600)
	@$(MAKE) -s -C tools O=$(BUILD)/tools fuzz

bench: images tools test-images ## boot and build benchmarks, printed as ratios (on the tests' tree: they use the consoles)
	@SECRETS=$(SECRETS) KILN_OUT=$(KILN_TEST_OUT) $(S)/bench.sh

repro: images ## build again into a second tree and compare every output byte for byte
	@$(S)/repro.sh

clean: ## remove build/ and out/ (the dependency cache and PKI secrets stay)
	rm -rf $(BUILD) $(OUT)
	@if [ -f init/Makefile ]; then $(MAKE) -s -C init clean O=$(BUILD)/init >/dev/null 2>&1 || true; fi

distclean: clean ## also drop the cached kernel and busybox
	rm -rf $(KILN_CACHE)
