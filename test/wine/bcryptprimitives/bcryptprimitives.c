/*
 * bcryptprimitives.dll for Wine 8, which lacks it. Go 1.24 and later take
 * their random bytes from ProcessPrng (Windows 10 and later ship it) and
 * refuse to start without it. This one forwards to RtlGenRandom
 * (SystemFunction036 of advapi32), which Wine has. For tests only:
 * internal/winetest builds it with mingw-w64 into each Wine prefix.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	/* RtlGenRandom takes a ULONG: feed it in pieces. */
	while (length > 0) {
		ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
