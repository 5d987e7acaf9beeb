#include <stdio.h>

int
main(void)
{
	printf("glasswatchd %s\n", GLASSWATCH_VERSION);
	return 0;
}
