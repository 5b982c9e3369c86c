// Who is logged in. The session cookie is HttpOnly; the readable CSRF cookie beside it tells the page
// whether asking /api/auth/me is worth it (no 401 in the console on a first visit).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "./api/client";
import type { LoginResult, Role, User } from "./api/types";
import { probablySignedIn } from "./lib/csrf";

interface AuthState {
  user: User | null;
  checking: boolean;
  login(name: string, password: string): Promise<User>;
  logout(): Promise<void>;
  forget(): void;
}

const AuthContext = createContext<AuthState | null>(null);

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

export function allows(user: User | null, role: Role): boolean {
  return user !== null && RANK[user.role] >= RANK[role];
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(() => probablySignedIn(document.cookie));

  useEffect(() => {
    if (!checking) return;
    let live = true;
    api.get<User>("/api/auth/me")
      .then((u) => live && setUser(u))
      .catch(() => live && setUser(null))
      .finally(() => live && setChecking(false));
    return () => {
      live = false;
    };
  }, [checking]);

  const login = useCallback(async (name: string, password: string) => {
    const result = await api.post<LoginResult>("/api/auth/login", { name, password });
    setUser(result.user);
    return result.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.post("/api/auth/logout");
    } finally {
      setUser(null);
    }
  }, []);

  const forget = useCallback(() => setUser(null), []);

  const value = useMemo(() => ({ user, checking, login, logout, forget }), [user, checking, login, logout, forget]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
