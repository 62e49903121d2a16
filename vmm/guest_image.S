/* The guest kernel's flat image, embedded at build time. */
#define STR_(x) #x
#define STR(x) STR_(x)
	.section .rodata
	.balign 4096
	.globl guest_image, guest_image_end
guest_image:
	.incbin STR(GUEST_BIN_PATH)
guest_image_end:
	.section .note.GNU-stack, "", @progbits
