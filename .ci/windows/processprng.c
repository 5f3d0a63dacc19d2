/* bcryptprimitives.dll for Wine 8, which lacks it: Rust's std imports ProcessPrng from it
 * for random bytes, and an executable without it dies at start (status c0000135).
 * Windows itself ships this DLL; the shim is only placed beside test executables under Wine.
 * Build (in .ci/run):
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll processprng.c processprng.def -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
