#!/usr/bin/env bash
# The real clients and servers the tests use besides PostgreSQL and s3rver
# (npm packages): LibreOffice Calc (CSV opened in a real spreadsheet), the
# Prometheus Pushgateway (metrics pushed to the real thing), Ceph's RADOS
# Gateway (an S3 API that checks SigV4 signatures and stores SSE), 7-Zip,
# unzip, bsdtar, Java's and Commons Compress's ZIP readers, Python and OpenSSL,
# Chromium (the archive's index.html opened as a person would, driven by playwright-core),
# and promtool (the alert rules checked and unit-tested).
# Installs from Debian's packages what is missing; does nothing when all are there.
set -euo pipefail
missing=()
command -v soffice >/dev/null || missing+=(libreoffice-calc-nogui)
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
command -v radosgw >/dev/null || missing+=(radosgw)
command -v ceph-mon >/dev/null || missing+=(ceph-mon)
command -v ceph-osd >/dev/null || missing+=(ceph-osd)
command -v 7zz >/dev/null || missing+=(7zip)
# Readers that stream through an archive without its central directory: Java's
# ZipInputStream and Commons Compress (what JVM and Android importers use), bsdtar.
command -v java >/dev/null || missing+=(default-jre-headless)
[ -f /usr/share/java/commons-compress.jar ] || missing+=(libcommons-compress-java)
command -v bsdtar >/dev/null || missing+=(libarchive-tools)
# Archives opened by unzip and Python's zipfile; a TLS server's certificate for the https file source.
command -v unzip >/dev/null || missing+=(unzip)
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
# promtool checks and unit-tests the alert rules in deploy/prometheus (Debian's prometheus package).
command -v promtool >/dev/null || missing+=(prometheus)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "test tools: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test tools missing (${missing[*]}): install them with apt-get as root" >&2
  exit 1
fi
echo "test tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
