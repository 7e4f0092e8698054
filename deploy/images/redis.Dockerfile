# Redis from Debian's packages, for where Docker Hub's redis image cannot be pulled
# (deploy/build_local_images.sh). Like the public image: redis-server and redis-cli on the
# PATH, data in /data, the command line gives the settings.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
# The public image turns protected mode off (other containers connect without a password on
# a private network); Debian's default would refuse them.
ENTRYPOINT ["sh", "-c", "if [ \"$1\" = redis-server ]; then shift; exec redis-server \"$@\" --protected-mode no; fi; exec \"$@\"", "--"]
CMD ["redis-server"]
