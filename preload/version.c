/* softmig_version: lets softmig-install check that a candidate library
 * loads and answers before it is swapped into place. */
#include "softmig.h"

SOFTMIG_EXPORT const char *softmig_version(void)
{
	return SOFTMIG_VERSION;
}
