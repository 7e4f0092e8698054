# Node.js for the image's asset stage, from Debian's packages, where Docker Hub's node image
# cannot be pulled (deploy/build_local_images.sh; the public build uses node:20-bookworm-slim).
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
