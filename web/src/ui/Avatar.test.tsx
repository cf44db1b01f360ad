import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../api/client";
import { Avatar, avatarSrc } from "./Avatar";

const user = (fields: Record<string, unknown>) => ({ id: "u", display_name: "Grace Brewster Hopper", ...fields }) as unknown as User;

describe("Avatar", () => {
  afterEach(cleanup);

  it("asks for the size wanted, keeping the upload's version", () => {
    expect(avatarSrc("/api/v1/users/u/avatar?size=256&v=abc", 64)).toBe("/api/v1/users/u/avatar?size=64&v=abc");
    expect(avatarSrc("/api/v1/users/u/avatar", 256)).toBe("/api/v1/users/u/avatar?size=256");
  });

  it("shows the picture, small in the header and hidden from screen readers beside the name", () => {
    const { container } = render(<Avatar user={user({ avatar_url: "/api/v1/users/u/avatar?size=256&v=abc" })} size={64} />);
    const img = container.querySelector("img")!;
    expect(img).toHaveAttribute("src", "/api/v1/users/u/avatar?size=64&v=abc");
    expect(img).toHaveAttribute("alt", "");
  });

  it("shows two initials without a picture", () => {
    render(<Avatar user={user({ avatar_url: null })} size={256} label="No avatar yet" />);
    expect(screen.getByRole("img", { name: "No avatar yet" })).toHaveTextContent("GB");
  });

  it("falls back to the initials when the picture cannot be loaded", () => {
    const { container } = render(<Avatar user={user({ avatar_url: "/api/v1/users/u/avatar?size=256&v=gone" })} size={256} label="Your avatar" />);
    fireEvent.error(container.querySelector("img")!);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByRole("img", { name: "Your avatar" })).toHaveTextContent("GB");
  });
});
