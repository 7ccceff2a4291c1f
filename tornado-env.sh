#!/usr/bin/env bash
# Source me:  source tornado-env.sh
# Finds a JDK 25 (the machine's default java may be older) and, if installed, a TornadoVM SDK;
# exports JAVA_HOME, PATH and TORNADO_SDK / TORNADOVM_HOME, and says what it found.

_erw_java_major() { "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

_erw_find_jdk() {
  local c
  for c in "${ERW_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk \
           /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25* /usr/lib/jvm/*25* /opt/java/openjdk \
           "$HOME"/.sdkman/candidates/java/25* /Library/Java/JavaVirtualMachines/*25*/Contents/Home; do
    [ -n "$c" ] && [ -x "$c/bin/javac" ] || continue
    if [ "$(_erw_java_major "$c")" = "25" ]; then echo "$c"; return 0; fi
  done
  return 1
}

if _jdk=$(_erw_find_jdk); then
  export JAVA_HOME="$_jdk"
  export PATH="$JAVA_HOME/bin:$PATH"
  echo "erw: JDK 25 at $JAVA_HOME"
else
  echo "erw: no JDK 25 found (looked in /usr/lib/jvm and JAVA_HOME). Install Temurin 25, e.g. 'apt-get install temurin-25-jdk', or set ERW_JAVA_HOME." >&2
  return 1 2>/dev/null || exit 1
fi

# TornadoVM SDK: TORNADO_SDK or TORNADOVM_HOME if already set, else common install places.
for _t in "${TORNADO_SDK:-}" "${TORNADOVM_HOME:-}" "$HOME"/TornadoVM/bin/sdk "$HOME"/tornadovm-*/ /opt/tornadovm* /opt/TornadoVM/bin/sdk; do
  if [ -n "$_t" ] && [ -x "$_t/bin/tornado" ]; then
    export TORNADO_SDK="${_t%/}"
    export TORNADOVM_HOME="$TORNADO_SDK"
    export PATH="$TORNADO_SDK/bin:$PATH"
    break
  fi
done
if [ -n "${TORNADO_SDK:-}" ] && [ -x "$TORNADO_SDK/bin/tornado" ]; then
  echo "erw: TornadoVM SDK at $TORNADO_SDK (Maven profile 'tornado' active, --backend tornado available)"
else
  unset TORNADO_SDK
  echo "erw: no TornadoVM SDK found: CPU backend only (see README, 'GPU with TornadoVM')"
fi
unset _jdk _t
