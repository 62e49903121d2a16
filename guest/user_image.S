/* The user program's flat image (guest/user/, user.bin), embedded at build
 * time; the kernel loads it from [user_image, user_image_end).  Page aligned
 * so the kernel may map its pages straight into a process. */
#define STR_(x) #x
#define STR(x) STR_(x)
	.section .rodata
	.balign 4096
	.globl user_image, user_image_end
user_image:
	.incbin STR(USER_BIN_PATH)
user_image_end:
	.section .note.GNU-stack, "", @progbits
