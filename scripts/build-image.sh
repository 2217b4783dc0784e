#!/usr/bin/env bash
# Builds the two images of the Dockerfile. The publish steps (scripts/publish.sh, the same commands the
# Dockerfile's RUN lines call) always run and report the helper's size; `docker build` runs only where a
# container engine answers (CI machines have none, so CI runs the publish steps through scripts/test.sh).
#   IMAGE_TAG=0.1.0 bash scripts/build-image.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
tag="${IMAGE_TAG:-dev}"

bash scripts/publish.sh spiffe-helper artifacts/publish/spiffe-helper
bash scripts/publish.sh minispire artifacts/publish/minispire
helper_bytes=$(stat -c %s artifacts/publish/spiffe-helper/spiffe-helper)
echo "spiffe-helper (Native AOT, linux-x64): $((helper_bytes / 1024 / 1024)) MiB ($helper_bytes bytes); the image adds the chiseled runtime-deps base"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build --target spiffe-helper -t "spiffe-helper:$tag" .
  docker build --target minispire -t "minispire:$tag" .
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^(spiffe-helper|minispire):$tag "
else
  echo "no container engine answers here: the publish steps ran, docker build did not"
fi
