# qpipe: ONNX -> quantized NPU deployment, as small Unix filters.
# make                build libqpipe.a and every filter into build/bin
# make test           run the whole test suite (bats + unit + conformance)
# make check-asan     the same under ASan + UBSan
# make bench          latency ratios against onnxruntime-node; calib against qinfer
# make install PREFIX=/usr/local

PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
PKGS    := libzstd yaml-0.1 libprotobuf-c libpng libjpeg
OPT     ?= -O2
SAN     ?=
CFLAGS  ?= $(OPT) -g
QP_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -I$(BUILD)/gen \
             -fno-strict-aliasing -pthread $(SAN) $(shell pkg-config --cflags $(PKGS))
LDLIBS  = $(shell pkg-config --libs $(PKGS)) -lm -pthread
AVX2_FLAGS := -mavx2 -mfma -mf16c
ONNX_PROTO ?= $(shell for d in /usr/include/onnx /usr/local/include/onnx; do \
                 [ -f $$d/onnx.proto ] && echo $$d/onnx.proto && break; done)

FILTERS := onnx2ir calib qtable qmix qinfer nbgexport tsim
PRESENT := $(foreach f,$(FILTERS),$(if $(wildcard filters/$(f).c),$(f)))
BINS    := $(addprefix $(BUILD)/bin/,$(PRESENT))

GEN_C   := $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/qpipe_ir.pb-c.c
GEN_H   := $(GEN_C:.c=.h)
LIB_SRC := $(wildcard common/*.c common/ops/*.c common/kernels/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
MAN1    := $(wildcard man/man1/*.1)
MAN5    := $(wildcard man/man5/*.5)
MAN7    := $(wildcard man/man7/*.7)

all: $(BUILD)/libqpipe.a $(BINS) $(UNIT_BIN)

$(BUILD)/gen/onnx.pb-c.c: $(ONNX_PROTO)
	@mkdir -p $(@D)
	@test -n "$(ONNX_PROTO)" || { echo "onnx.proto not found: install libonnx-dev" >&2; exit 1; }
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(ONNX_PROTO)
$(BUILD)/gen/onnx.pb-c.h: $(BUILD)/gen/onnx.pb-c.c

$(BUILD)/gen/qpipe_ir.pb-c.c: common/qpipe_ir.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=common --c_out=$(@D) common/qpipe_ir.proto
$(BUILD)/gen/qpipe_ir.pb-c.h: $(BUILD)/gen/qpipe_ir.pb-c.c

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(QP_CFLAGS) -Wno-unused-parameter -c -o $@ $<

# Fast kernels carry their ISA in the file name and get its flags; dispatch is at run time.
$(BUILD)/obj/%_avx2.o: %_avx2.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(QP_CFLAGS) $(AVX2_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(QP_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libqpipe.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# (in a pattern rule's prerequisites every '%' becomes the stem, patsubst's too: hence the function)
objs_of = $(patsubst %.c,$(BUILD)/obj/%.o,$1)
.SECONDEXPANSION:
$(BUILD)/bin/%: $$(call objs_of,filters/$$*.c $$(wildcard filters/$$*_*.c)) $(BUILD)/libqpipe.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(filter %.o,$^) $(BUILD)/libqpipe.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libqpipe.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $< $(BUILD)/libqpipe.a $(LDLIBS)

# nbgexport carries the NBG runtime's sources (libc only) and the host I/O its main.c uses
# (tensorio.c, diag_exit.c: POSIX files and stderr), and writes them into every project.
RT_C    := common/diag.c common/arena.c common/graph.c common/qtable.c common/keys.c \
           common/requant.c common/memplan.c common/qexec.c common/threads.c common/tensor_data.c \
           common/nbg.c $(wildcard common/ops/*.c common/kernels/*.c) \
           common/tensorio.c common/diag_exit.c
RT_H    := $(wildcard common/kernels/*.h) common/tensorio_dtype.h $(addprefix include/qp/,arena.h conv_f32.h diag.h \
           elt_argminmax.h elt_bcast.h elt_binary.h elt_cast.h elt_unary.h gemm_f32.h graph.h keys.h \
           memplan.h move_copy.h move_gather.h move_pad.h move_resize.h nbg.h nn.h nn_matrix.h \
           nn_norm.h nn_reduce.h nn_softmax.h op.h pool_f32.h q_conv2d.h q_convert.h q_eltwise.h \
           q_gemm.h q_lut.h q_pool.h q_resize.h q_softmax.h qexec.h qops.h qtable.h qtable_algo.h \
           requant.h tensor.h tensorio.h threads.h vmath.h)
RT_FILES := runtime/main.c runtime/Makefile.in $(RT_C) $(RT_H)
$(BUILD)/gen/nbgexport_src.c: runtime/embed.sh $(RT_FILES)
	@mkdir -p $(@D)
	sh runtime/embed.sh $(RT_FILES) > $@.tmp && mv $@.tmp $@
$(BUILD)/bin/nbgexport: $(BUILD)/obj/gen/nbgexport_src.o

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The test command of the README: installs what is missing (Debian), fetches the pinned
# models and references, builds, runs every bats file (unit tests, conformance, models).
test:
	sh tests/install-deps.sh
	sh tests/fetch-all.sh
	$(MAKE) all
	@{ QP_BUILD=$(abspath $(BUILD)) bats tests/; echo $$? > $(BUILD)/bats.rc; } 2>&1 | tee $(BUILD)/bats.log
	@awk '/^ok /{p++} /^not ok /{f++} /^ok .* # skip/{s++} END {printf "%d passed, %d failed, %d skipped\n", p-s, f, s}' \
	  $(BUILD)/bats.log; exit $$(cat $(BUILD)/bats.rc)

demo:
	bash pipelines/demo.sh

check-asan:
	sh tests/install-deps.sh
	sh tests/fetch-all.sh
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	QP_BUILD=$(abspath build-asan) QP_SANITIZED=1 bats tests/

bench:
	sh tests/install-deps.sh
	$(MAKE) all
	QP_BUILD=$(abspath $(BUILD)) sh tests/bench/run.sh
	QP_BUILD=$(abspath $(BUILD)) sh tests/bench/calib.sh

# libFuzzer targets for the ONNX importer, the IR reader and the NBG loader, each run FUZZ_SECONDS on a
# scratch copy of its seed corpus (tests/fuzz/corpus_*), under ASan + UBSan.
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
O2I_LIB_SRC := $(filter-out filters/onnx2ir.c,$(wildcard filters/onnx2ir_*.c))
fuzz:
	sh tests/install-deps.sh
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g" SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	  build-fuzz/libqpipe.a $(patsubst %.c,build-fuzz/obj/%.o,$(O2I_LIB_SRC))
	clang -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Ibuild-fuzz/gen -fsanitize=fuzzer $(FUZZ_SAN) \
	  -o build-fuzz/fuzz_ir tests/fuzz/fuzz_ir.c build-fuzz/libqpipe.a $(LDLIBS)
	clang -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Ibuild-fuzz/gen -fsanitize=fuzzer $(FUZZ_SAN) \
	  -o build-fuzz/fuzz_onnx tests/fuzz/fuzz_onnx.c $(patsubst %.c,build-fuzz/obj/%.o,$(O2I_LIB_SRC)) \
	  build-fuzz/libqpipe.a $(LDLIBS)
	clang -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Ibuild-fuzz/gen -fsanitize=fuzzer $(FUZZ_SAN) \
	  -o build-fuzz/fuzz_nbg tests/fuzz/fuzz_nbg.c build-fuzz/libqpipe.a $(LDLIBS)
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7/)

clean:
	rm -rf $(BUILD) build-asan

.PHONY: all test demo check-asan bench fuzz install clean
.SECONDARY:
