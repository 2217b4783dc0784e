# syntax=docker/dockerfile:1
# Two images from one build, both non-root with no shell:
#   docker build --target spiffe-helper -t spiffe-helper:0.2.0 .   Native AOT on chiseled runtime-deps
#   docker build --target minispire -t minispire:0.2.0 .           on the chiseled ASP.NET runtime
# Self-contained: everything is compiled in the SDK stage, nothing has to be built on the host first (.dockerignore
# keeps the host's bin/, obj/ and artifacts/ out of the context). The RUN steps call scripts/publish.sh, which CI
# runs too (scripts/test.sh), so they cannot rot unseen. Without docker, scripts/build-image.sh assembles the same
# helper image from the AOT binary and Debian's libraries instead.
# `-version` names the commit when it is given (.git is not in the context):
#   docker build --build-arg SOURCE_REVISION_ID=$(git rev-parse HEAD) --target spiffe-helper .
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
# Native AOT links with clang and needs zlib's headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .

FROM build AS publish-minispire
ARG SOURCE_REVISION_ID=
RUN SourceRevisionId="$SOURCE_REVISION_ID" bash scripts/publish.sh minispire /out

FROM build AS publish-helper
ARG TARGETARCH
ARG SOURCE_REVISION_ID=
RUN SourceRevisionId="$SOURCE_REVISION_ID" RID="linux-$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64)" bash scripts/publish.sh spiffe-helper /out

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble-chiseled AS minispire
COPY --from=publish-minispire /out /app
# 1654 is the chiseled images' non-root "app" user; numeric so runAsNonRoot can verify it.
USER 1654
ENTRYPOINT ["dotnet", "/app/minispire.dll"]

# Last, so a plain `docker build .` gives the helper.
FROM mcr.microsoft.com/dotnet/runtime-deps:${DOTNET_VERSION}-noble-chiseled AS spiffe-helper
COPY --from=publish-helper /out/spiffe-helper /usr/local/bin/spiffe-helper
COPY LICENSE /usr/share/doc/spiffe-helper/LICENSE
USER 1654
ENTRYPOINT ["/usr/local/bin/spiffe-helper"]
CMD ["-config", "/etc/spiffe-helper/helper.conf"]
