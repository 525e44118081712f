# agentgate — build, test, lint, bench.
GO      ?= go
BIN     ?= bin/agentgate
NODE_DIR = e2e/node

.PHONY: build test test-go node-deps lint bench fuzz clean

# A stripped binary (no symbol table or DWARF: about a third smaller).
build:
	$(GO) build -trimpath -ldflags '-s -w' -o $(BIN) ./cmd/agentgate

# The whole suite: unit, conformance, end-to-end (real binary) and the
# real-client tests driven from Go (they need the npm packages below).
test: node-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./...
	# Allocation bounds hold only without the race detector (sync.Pool
	# drops items at random under it): assert them once without it.
	$(GO) test -count=1 -run 'Allocs|Values|PGArg|ExecSQL|FirstSlab|ZeroAlloc' ./storage/... ./core/
	$(GO) test -count=1 -run 'RendersAsRenderEvent' ./adapters/rest

node-deps:
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error

lint:
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

# Load tool: agentgate vs a bare fiber baseline, measured in the same run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./storage/... ./core/...
	$(GO) run ./bench/cmd/agentbench
	$(GO) run ./bench/cmd/agentbench -tracing-compare
	$(GO) run ./bench/cmd/agentbench -profile postgres-redis
	# The setting of #20's table: 16 clients, a reply in 14 chunks (19 frames).
	$(GO) run ./bench/cmd/agentbench -profile postgres-redis -concurrency 16 -chunks 14
	$(GO) run ./bench/cmd/agentbench -paced
	$(GO) run ./bench/cmd/agentbench -paced -profile postgres-redis
	$(GO) run ./bench/cmd/wsbench
	$(GO) run ./bench/cmd/kbench

# Short fuzzing of every untrusted-input parser (10 s each).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseRunForm -fuzztime 10s ./adapters/rest
	$(GO) test -run '^$$' -fuzz FuzzParseContinueForm -fuzztime 10s ./adapters/rest
	$(GO) test -run '^$$' -fuzz FuzzParseEventIndex -fuzztime 10s ./adapters/rest
	$(GO) test -run '^$$' -fuzz FuzzMultipartFastPath -fuzztime 10s ./adapters/rest
	$(GO) test -run '^$$' -fuzz FuzzEvaluate -fuzztime 10s ./core/tool
	$(GO) test -run '^$$' -fuzz FuzzParseConfig -fuzztime 10s .
	$(GO) test -run '^$$' -fuzz FuzzAuthenticateToken -fuzztime 10s ./auth
	$(GO) test -run '^$$' -fuzz FuzzMCPArgs -fuzztime 10s ./adapters/mcp
	$(GO) test -run '^$$' -fuzz FuzzWSParseClientFrame -fuzztime 10s ./adapters/ws
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime 10s ./adapters/slack
	$(GO) test -run '^$$' -fuzz FuzzParseInteraction -fuzztime 10s ./adapters/slack
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 10s ./adapters/slack
	$(GO) test -run '^$$' -fuzz FuzzCall -fuzztime 10s ./core/tool/httptool
	$(GO) test -run '^$$' -fuzz FuzzNew -fuzztime 10s ./core/tool/httptool
	$(GO) test -run '^$$' -fuzz FuzzParseAllow -fuzztime 10s ./transport/egress
	$(GO) test -run '^$$' -fuzz FuzzParseMemoryList -fuzztime 10s ./core/memory
	$(GO) test -run '^$$' -fuzz FuzzMemorySearch -fuzztime 10s ./storage/sqlite
	$(GO) test -run '^$$' -fuzz FuzzComponentCheck -fuzztime 10s .
	$(GO) test -run '^$$' -fuzz FuzzSearchTerms -fuzztime 10s ./storage/sqlstore
	$(GO) test -run '^$$' -fuzz FuzzKnowledgeSearch -fuzztime 10s ./storage/sqlite
	$(GO) test -run '^$$' -fuzz FuzzParseContentForm -fuzztime 10s ./adapters/rest
	$(GO) test -run '^$$' -fuzz FuzzNormalizeFilters -fuzztime 10s ./core/knowledge
	$(GO) test -run '^$$' -fuzz FuzzReaders -fuzztime 10s ./core/knowledge/reader
	$(GO) test -run '^$$' -fuzz FuzzChunkers -fuzztime 10s ./core/knowledge/chunk
	$(GO) test -run '^$$' -fuzz FuzzParseVerdict -fuzztime 10s ./core/eval
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime 10s ./internal/sse

clean:
	rm -rf bin
